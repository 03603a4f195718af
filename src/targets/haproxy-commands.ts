import { WhisperError } from '../errors.js';

/** What `show ssl cert` (no argument) lists: the certificate stores, and the one open transaction if any. */
export interface CertStoreList {
  /** File names of the loaded certificate stores, as HAProxy names them. */
  readonly files: readonly string[];
  /** File name of the open transaction (HAProxy has at most one at a time), if any. */
  readonly transaction?: string;
}

/** One store as `show ssl cert <file>` describes it. */
export interface CertStoreInfo {
  /** `Used` (some bind serves it), `Unused` (loaded, not in a crt-list), `Empty` (`new ssl cert`, not set yet). */
  readonly status: string;
  /** Serial, uppercase hex, absent for an empty store. */
  readonly serial?: string;
}

/**
 * How HAProxy names a file of a `crt <folder>`: the folder as the configuration writes it, trailing slashes
 * dropped (HAProxy drops one: `crt /etc/certs/` and `crt /etc/certs` give the same names), `/`, the file name.
 * Symbolic links are not resolved: a folder reached through a link has names of its own.
 */
export function haproxyCertName(certFolder: string, fileName: string): string {
  return `${crtListName(certFolder)}/${fileName}`;
}

/** The crt-list name HAProxy gives a `crt <folder>`: the folder without trailing slashes. */
export function crtListName(certFolder: string): string {
  const trimmed = certFolder.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

/** Serial numbers compare without leading zeros and case. */
export function sameSerial(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  const norm = (s: string) => s.replace(/[^0-9a-fA-F]/g, '').replace(/^0+/, '').toUpperCase();
  return norm(a) === norm(b);
}

/** Reads the answer of `show ssl cert`. */
export function parseCertStoreList(answer: string): CertStoreList {
  const files: string[] = [];
  let transaction: string | undefined;
  let section = '';
  for (const raw of answer.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      section = line.slice(1).trim();
      continue;
    }
    if (section === 'transaction') transaction = line.replace(/^\*/, '');
    else if (section === 'filename') files.push(line);
  }
  if (section === '' && answer.trim() !== '') throw unexpected('show ssl cert', answer);
  return transaction === undefined ? { files } : { files, transaction };
}

/** Reads the answer of `show ssl cert <file>`; `undefined` when HAProxy has no such store. */
export function parseCertStoreInfo(file: string, answer: string): CertStoreInfo | undefined {
  if (/^Can't display the certificate/m.test(answer)) return undefined;
  const fields = new Map<string, string>();
  for (const line of answer.split('\n')) {
    const m = /^([A-Za-z][A-Za-z0-9 ]*):\s?(.*)$/.exec(line);
    if (m) fields.set(m[1]!, m[2]!.trim());
  }
  if (!fields.has('Filename')) throw unexpected(`show ssl cert ${file}`, answer);
  const serial = fields.get('Serial');
  const status = fields.get('Status') ?? 'Unknown';
  return serial ? { status, serial: serial.toUpperCase() } : { status };
}

/** Reads the answer of `show ssl crt-list <list>`: its entries' file names; `undefined` when there is no such list. */
export function parseCrtList(list: string, answer: string): string[] | undefined {
  if (/didn't find the specified filename/.test(answer)) return undefined;
  const lines = answer.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  if (lines[0]?.startsWith('#') !== true) throw unexpected(`show ssl crt-list ${list}`, answer);
  return lines.slice(1).map((l) => l.split(/\s+/, 1)[0]!).filter((f) => !f.startsWith('#'));
}

/** Reads the answer of `show ssl crt-list` (no argument): the names of the crt-lists and `crt` folders. */
export function parseCrtLists(answer: string): string[] {
  return answer.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

/** The runtime API commands this target sends, one per situation. */
export type RuntimeVerb =
  | 'set ssl cert'
  | 'commit ssl cert'
  | 'abort ssl cert'
  | 'new ssl cert'
  | 'add ssl crt-list'
  | 'del ssl crt-list'
  | 'del ssl cert';

/** What an answer means: done, nothing to do (already in that state), or a failure. */
export type AnswerVerdict =
  | { readonly ok: true; readonly already?: boolean; readonly transactionFile?: string }
  | { readonly ok: false; readonly retryable: boolean; readonly reason: string };

const BUSY = /The ongoing transaction is about '([^']*)'/;

/**
 * Judges HAProxy's text answer to `verb` about `file` (HAProxy answers errors in text, one wording per command;
 * wordings checked against HAProxy 2.6). A refusal because another file's transaction is open is retryable; a
 * command HAProxy does not know or does not allow (socket not `level admin`) is not.
 */
export function judgeAnswer(verb: RuntimeVerb, file: string, answer: string): AnswerVerdict {
  const text = answer.trim();
  if (/^Permission denied/m.test(text)) return refuse(false, 'permission denied: the stats socket needs `level admin`');
  if (/^Unknown command/m.test(text)) return refuse(false, `HAProxy does not know \`${verb}\` (needs HAProxy 2.2 or newer)`);
  const busy = BUSY.exec(text);
  if (busy && busy[1] !== file) {
    if (verb === 'abort ssl cert') return { ok: true, already: true };
    return refuse(true, `another transaction is open on ${busy[1]}`);
  }
  switch (verb) {
    case 'set ssl cert': {
      const m = /^Transaction (?:created|updated) for certificate (.+)!$/m.exec(text);
      if (m) return { ok: true, transactionFile: m[1]! };
      if (text === '') return refuse(true, 'HAProxy closed the connection without an answer (a PEM larger than tune.bufsize?)');
      if (/not referenced by the configuration/.test(text)) return refuse(true, 'HAProxy has no such certificate');
      return refuse(false, firstLines(text));
    }
    case 'commit ssl cert':
      if (/^Success!/m.test(text) && !/Can't commit/.test(text)) return { ok: true };
      return refuse(/No ongoing transaction/.test(text), firstLines(text));
    case 'abort ssl cert':
      if (/^Transaction aborted/m.test(text)) return { ok: true };
      if (/^No ongoing transaction/m.test(text)) return { ok: true, already: true };
      return refuse(true, firstLines(text));
    case 'new ssl cert':
      if (/^New empty certificate store/m.test(text)) return { ok: true };
      if (/already exists/.test(text)) return { ok: true, already: true };
      return refuse(false, firstLines(text));
    case 'add ssl crt-list':
      if (/^Success!/m.test(text)) return { ok: true };
      if (/already exists/.test(text)) return { ok: true, already: true };
      return refuse(false, firstLines(text));
    case 'del ssl crt-list':
      if (/deleted in crtlist/.test(text)) return { ok: true };
      if (/does not exist/.test(text)) return { ok: true, already: true };
      return refuse(false, firstLines(text));
    case 'del ssl cert':
      if (/^Certificate '.*' deleted!/m.test(text)) return { ok: true };
      if (/doesn't exist|does not exist/.test(text)) return { ok: true, already: true };
      return refuse(/in use/.test(text) ? false : true, firstLines(text));
  }
}

function refuse(retryable: boolean, reason: string): AnswerVerdict {
  return { ok: false, retryable, reason };
}

/**
 * HAProxy's answer shortened for a message. HAProxy does not echo a payload; still, PEM armour and base64 lines
 * never get through.
 */
export function firstLines(answer: string): string {
  const lines = answer
    .trim()
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.includes('-----') && !/^\s*[A-Za-z0-9+/=]{16,}\s*$/.test(l));
  const text = lines.slice(0, 3).join(' / ');
  return text.length > 300 ? `${text.slice(0, 300)}…` : text || '(empty answer)';
}

function unexpected(command: string, answer: string): WhisperError {
  const retryable = !/^(Permission denied|Unknown command)/m.test(answer);
  const hint = retryable ? '' : ' (the stats socket needs `level admin` and HAProxy 2.2 or newer)';
  return new WhisperError('TARGET_HAPROXY', `HAProxy answered \`${command}\` with: ${firstLines(answer)}${hint}`, { retryable });
}
