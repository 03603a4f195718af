import { readFile as fsReadFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { WhisperError, errorMessage } from '../errors.js';
import { parseTargetUrl } from '../targets/urls.js';
import { parseSocketAddress } from '../targets/haproxy-socket.js';
import { formatPath, lineOf, problemsOf, type DataPath, type FileProblem } from './locate.js';
import { policyFileSchema, type PolicyFileInput } from './schema.js';
import type { DnsBackendSpec, PolicyFile, PolicyRule, PolicySettings, PolicyTarget } from './file-types.js';

export type { DnsBackendSpec, PolicyFile, PolicyRule, PolicySettings, PolicyTarget } from './file-types.js';

/** Reads a file as UTF-8 text (the config file, and the TSIG secret files it names). */
export type ReadTextFile = (path: string) => Promise<string>;

const defaultRead: ReadTextFile = (path) => fsReadFile(path, 'utf8');

/**
 * Reads and validates the config file of `--config` (YAML; see docs/configuration.md). Also reads the TSIG secret
 * files its `dns:` back ends name (relative paths: from the config file's folder).
 *
 * @throws WhisperError `CONFIG_INVALID`: `<file>:<line>: <key path>: <what is wrong>` for the first problem (by line),
 *   with how many more there are; `<file>: cannot read ...` when the file cannot be read.
 */
export async function loadPolicyFile(path: string, readFile: ReadTextFile = defaultRead): Promise<PolicyFile> {
  let text: string;
  try {
    text = await readFile(path);
  } catch (err) {
    throw new WhisperError('CONFIG_INVALID', `${path}: cannot read the config file: ${errorMessage(err)}`, { cause: err });
  }
  return parsePolicyText(text, path, readFile);
}

/** {@link loadPolicyFile} of text already read (`path` names it in messages and anchors relative secret files). */
export async function parsePolicyText(text: string, path: string, readFile: ReadTextFile = defaultRead): Promise<PolicyFile> {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, uniqueKeys: true, prettyErrors: true });
  const yamlError = doc.errors[0];
  if (yamlError !== undefined) {
    const line = yamlError.linePos?.[0].line ?? 1;
    const what = (yamlError.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    throw new WhisperError('CONFIG_INVALID', `${path}:${line}: not valid YAML: ${what}`);
  }
  const fail = (problems: readonly FileProblem[]): never => {
    const located = problems.map((p) => ({ ...p, line: lineOf(doc, counter, p.path) })).sort((a, b) => a.line - b.line);
    const first = located[0]!;
    const more = located.length > 1 ? ` (and ${located.length - 1} more problem${located.length > 2 ? 's' : ''})` : '';
    throw new WhisperError('CONFIG_INVALID', `${path}:${first.line}: ${formatPath(first.path)}: ${first.message}${more}`);
  };
  const data: unknown = doc.toJS() ?? {};
  const parsed = policyFileSchema.safeParse(data);
  if (!parsed.success) return fail(problemsOf(parsed.error.issues));
  const input = parsed.data;
  const problems = crossCheck(input);
  if (problems.length > 0) return fail(problems);

  const dns: Record<string, DnsBackendSpec> = {};
  for (const [name, spec] of Object.entries(input.dns ?? {})) {
    try {
      dns[name] = await backend(spec, path, readFile);
    } catch (err) {
      fail([{ path: ['dns', name, 'tsig_secret_file'], message: errorMessage(err) }]);
    }
  }
  const targets: Record<string, PolicyTarget> = {};
  for (const [name, value] of Object.entries(input.targets ?? {})) {
    try {
      targets[name] = target(value);
    } catch (err) {
      fail([{ path: ['targets', name], message: errorMessage(err) }]);
    }
  }
  const rules = (input.certificates ?? []).map((r, i): PolicyRule => deepFreeze({
    label: r.label ?? `certificates[${i}]`,
    line: lineOf(doc, counter, ['certificates', i]),
    ...(r.zone ? { zones: r.zone } : {}),
    ...(r.name ? { names: r.name } : {}),
    ...(r.pattern ? { patterns: r.pattern } : {}),
    set: { ...settingsOf(r), ...(r.names ? { extraNames: [...new Set(r.names)] } : {}) },
  }));
  return deepFreeze({
    path,
    defaults: settingsOf(input.defaults ?? {}),
    dns,
    targets,
    rules,
    domains: (input.domains ?? []).map((names) => [...new Set(names)]),
  });
}

type InputSettings = NonNullable<PolicyFileInput['defaults']>;

function settingsOf(s: InputSettings): PolicySettings {
  return {
    ...(s.dns !== undefined ? { dns: s.dns } : {}),
    ...(s.challenge !== undefined ? { challenge: s.challenge } : {}),
    ...(s.key_type !== undefined ? { keyType: s.key_type as PolicySettings['keyType'] & string } : {}),
    ...(s.reuse_key !== undefined ? { reuseKey: s.reuse_key } : {}),
    ...(s.renew_before !== undefined ? { renewBefore: s.renew_before } : {}),
    ...(s.profile !== undefined ? { profile: s.profile } : {}),
    ...(s.targets !== undefined ? { targets: [...new Set(s.targets)] } : {}),
    ...(s.on_removal !== undefined ? { onRemoval: s.on_removal } : {}),
  };
}

/** References between sections: a `dns:` or `targets:` name that does not exist, dns-01 on a back end that writes no DNS. */
function crossCheck(input: PolicyFileInput): FileProblem[] {
  const problems: FileProblem[] = [];
  const check = (s: InputSettings, at: DataPath, what: string): void => {
    if (s.dns !== undefined && input.dns?.[s.dns] === undefined) {
      problems.push({ path: [...at, 'dns'], message: `${what} names DNS back end ${JSON.stringify(s.dns)}, which dns: does not define` });
    }
    for (const t of s.targets ?? []) {
      if (input.targets?.[t] === undefined) problems.push({ path: [...at, 'targets'], message: `${what} names target ${JSON.stringify(t)}, which targets: does not define` });
    }
    const dns = s.dns ?? input.defaults?.dns;
    const challenge = s.challenge ?? input.defaults?.challenge;
    if (dns !== undefined && input.dns?.[dns]?.provider === 'none' && challenge === 'dns-01') {
      problems.push({ path: [...at, s.challenge !== undefined ? 'challenge' : 'dns'], message: `${what}: back end ${JSON.stringify(dns)} writes no DNS: dns-01 cannot work with it (use dns-persist-01)` });
    }
  };
  if (input.defaults) check(input.defaults, ['defaults'], 'defaults');
  (input.certificates ?? []).forEach((r, i) => check(r, ['certificates', i], `rule ${r.label ?? `certificates[${i}]`}`));
  return problems;
}

async function backend(spec: NonNullable<PolicyFileInput['dns']>[string], path: string, readFile: ReadTextFile): Promise<DnsBackendSpec> {
  switch (spec.provider) {
    case 'route53':
      return {
        provider: 'route53',
        ...(spec.profile !== undefined ? { profile: spec.profile } : {}),
        ...(spec.region !== undefined ? { region: spec.region } : {}),
        ...(spec.endpoint !== undefined ? { endpoint: spec.endpoint } : {}),
        ...(spec.rps !== undefined ? { requestsPerSecond: spec.rps } : {}),
      };
    case 'rfc2136': {
      if ((spec.tsig_name === undefined) !== (spec.tsig_secret_file === undefined)) {
        throw new Error('tsig_name and tsig_secret_file go together (the secret is only ever read from a file)');
      }
      let tsig: Extract<DnsBackendSpec, { provider: 'rfc2136' }>['tsig'];
      if (spec.tsig_name !== undefined && spec.tsig_secret_file !== undefined) {
        const secretFile = resolve(dirname(path), spec.tsig_secret_file);
        const secret = (await readFile(secretFile)).trim();
        if (!/^[A-Za-z0-9+/]+={0,2}$/.test(secret)) throw new Error(`${spec.tsig_secret_file} does not hold a base64 TSIG secret`);
        tsig = { name: spec.tsig_name, algorithm: spec.tsig_algorithm ?? 'hmac-sha256', secret, secretFile };
      }
      return { provider: 'rfc2136', server: spec.server, ...(spec.zone !== undefined ? { zone: spec.zone } : {}), ...(tsig ? { tsig } : {}) };
    }
    case 'exec':
      return { provider: 'exec', command: spec.command };
    case 'none':
      return { provider: 'none' };
  }
}

function target(value: string): PolicyTarget {
  const v = value.trim();
  if (v.includes('://')) {
    parseTargetUrl(v);
    return { kind: 'url', url: v };
  }
  if (!v.startsWith('/') && !/^(\[[0-9a-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/i.test(v)) {
    throw new Error(`expected a --target URL (acm://, s3://, sftp://, ...) or a HAProxy runtime API address (an absolute socket path or host:port), got ${JSON.stringify(value)}`);
  }
  parseSocketAddress(v);
  return { kind: 'haproxy-socket', address: v };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}
