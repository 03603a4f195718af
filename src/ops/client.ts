import { readFile } from 'node:fs/promises';
import { WhisperError, errorMessage, type ErrorCode } from '../errors.js';
import { readFolderLock, describeHolder, type LockInfo, type ReadLockOptions } from './lock.js';
import type { CertificateView, ImportResult, RenewResult, RevocationReason, RevokeResult } from './types.js';

/** The running daemon's admin API, as the operator's commands use it. */
export interface DaemonApi {
  /** The daemon's lock: pid, host, API URL. */
  readonly holder: LockInfo;
  renew(id: string, opts: { readonly force: boolean }): Promise<RenewResult>;
  revoke(id: string, opts: { readonly reason: RevocationReason }): Promise<RevokeResult>;
  importCerts(pems: readonly { readonly name: string; readonly pem: string }[]): Promise<ImportResult[]>;
  certificates(): Promise<CertificateView[]>;
}

/** Options of {@link findDaemon}. */
export interface FindDaemonOptions {
  /** The admin token file (`--admin-token-file`); else the one the daemon's lock names. @default the lock's */
  readonly tokenFile?: string;
  /** How long one API call may take. @default 60000 */
  readonly timeoutMs?: number;
  /** How the lock's staleness is judged (tests). @default this process, now */
  readonly lock?: ReadLockOptions;
}

/** The header telling the daemon who acts, so that its history records `by: cli`. */
export const CLIENT_HEADER = 'x-whisper-client';

/**
 * The daemon that holds `folder`, reachable through its admin API; `undefined` when no live daemon holds it (free, a
 * stale lock, or a command holds it: taking the lock then says who). A live daemon without an API cannot be acted
 * through and must not be acted beside: that is `FOLDER_LOCKED`, as is an API that does not answer (on first call).
 *
 * @throws WhisperError `FOLDER_LOCKED`, `CONFIG_INVALID` when `tokenFile` cannot be read
 */
export async function findDaemon(folder: string, opts: FindDaemonOptions = {}): Promise<DaemonApi | undefined> {
  const lock = await readFolderLock(folder, opts.lock);
  if (lock === undefined || lock.stale || lock.kind !== 'daemon') return undefined;
  const { stale: _stale, ...holder } = lock;
  if (holder.api === undefined) {
    throw new WhisperError('FOLDER_LOCKED', `${describeHolder(holder)} runs on ${folder} without --listen: act through it by starting it with ` +
      '--listen and --admin-token-file, or stop it and run the command again', { retryable: true });
  }
  const token = await readToken(opts.tokenFile, holder.tokenFile);
  return apiClient(holder, connectable(holder.api), token, opts.timeoutMs ?? 60_000);
}

/** The API's URL to connect to: a daemon listening on every address (`0.0.0.0`, `::`) is reached on loopback. */
export function connectable(api: string): string {
  try {
    const url = new URL(api);
    if (url.hostname === '0.0.0.0') url.hostname = '127.0.0.1';
    else if (url.hostname === '[::]') url.hostname = '[::1]';
    return url.toString().replace(/\/+$/, '');
  } catch {
    throw new WhisperError('STORE_CORRUPT', `the folder lock names an admin API that is not a URL: ${JSON.stringify(api)}`);
  }
}

/** The token, or why there is none (said when the daemon refuses the call). */
async function readToken(given: string | undefined, fromLock: string | undefined): Promise<{ value?: string; why: string }> {
  const file = given ?? fromLock;
  if (file === undefined) return { why: 'the daemon runs without --admin-token-file, so its API allows no actions' };
  try {
    const value = (await readFile(file, 'utf8')).trim();
    if (value === '') return { why: `the admin token file ${file} is empty` };
    return { value, why: `with the token of ${file}` };
  } catch (err) {
    if (given !== undefined) throw new WhisperError('CONFIG_INVALID', `--admin-token-file: cannot read ${file}: ${errorMessage(err)}`, { cause: err });
    return { why: `cannot read the admin token file ${file} the daemon names (${errorMessage(err)}): give --admin-token-file` };
  }
}

function apiClient(holder: LockInfo, base: string, token: { value?: string; why: string }, timeoutMs: number): DaemonApi {
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> => {
    const url = `${base.replace(/\/+$/, '')}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          [CLIENT_HEADER]: 'cli',
          accept: 'application/json',
          ...(token.value ? { authorization: `Bearer ${token.value}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      // Never act directly beside a live daemon: its lock is fresh, so it runs; only its API is out of reach.
      throw new WhisperError('FOLDER_LOCKED', `${describeHolder(holder)} holds the folder, but its admin API at ${base} does not answer ` +
        `(${errorMessage((err as { cause?: unknown }).cause ?? err)}); try again, or stop the daemon`, { retryable: true, cause: err });
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!res.ok) throw answerError(res, json, token.why);
    if (json === undefined) throw new WhisperError('INTERNAL', `${method} ${url}: the daemon answered ${res.status} without JSON`);
    return json;
  };
  const cert = (id: string) => `/api/certificates/${encodeURIComponent(id)}`;
  return {
    holder,
    renew: async (id, o) => (await call('POST', `${cert(id)}/renew`, { force: o.force })) as RenewResult,
    revoke: async (id, o) => (await call('POST', `${cert(id)}/revoke`, { reason: o.reason })) as RevokeResult,
    importCerts: async (pems) => ((await call('POST', '/api/import', { pems })) as { imported: ImportResult[] }).imported,
    certificates: async () => {
      const got = (await call('GET', '/api/certificates')) as { certificates?: CertificateView[] } | CertificateView[];
      return Array.isArray(got) ? got : (got.certificates ?? []);
    },
  };
}

/** The codes of the API's HTTP layer, as the commands know them. */
const HTTP_CODES: Readonly<Record<string, ErrorCode>> = {
  BAD_REQUEST: 'CONFIG_INVALID',
  FORBIDDEN: 'UNAUTHORIZED',
  UNAVAILABLE: 'FOLDER_LOCKED',
};

/** An error answer (`{ error, message }`) as the WhisperError the daemon threw, with its code and message. */
export function answerError(res: Pick<Response, 'status' | 'headers'>, json: unknown, tokenWhy: string): WhisperError {
  const body = (typeof json === 'object' && json !== null ? json : {}) as { error?: unknown; message?: unknown };
  const sent = typeof body.error === 'string' && /^[A-Z][A-Z0-9_]*$/.test(body.error) ? body.error : undefined;
  const byStatus: ErrorCode = res.status === 404 ? 'NOT_FOUND' : res.status === 401 || res.status === 403 ? 'UNAUTHORIZED'
    : res.status === 429 ? 'RATE_LIMIT_DEFERRED' : res.status === 400 ? 'CONFIG_INVALID' : 'INTERNAL';
  const code = sent === undefined ? byStatus : (HTTP_CODES[sent] ?? (sent as ErrorCode));
  let message = typeof body.message === 'string' ? body.message : `the daemon answered ${res.status}`;
  if (code === 'UNAUTHORIZED') message = `${message} (${tokenWhy})`;
  const seconds = Number(res.headers.get('retry-after'));
  const retryAfter = Number.isFinite(seconds) && seconds > 0 ? new Date(Date.now() + seconds * 1000) : undefined;
  return new WhisperError(code, message, { retryable: res.status === 429 || res.status >= 500 || code === 'FOLDER_LOCKED', ...(retryAfter ? { retryAfter } : {}) });
}
