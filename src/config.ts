import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { WhisperError } from './errors.js';
import { KEY_TYPES, type KeyType } from './acme/keys.js';
import { CHALLENGE_TYPES, type ChallengeType } from './acme/challenge-choice.js';
import { createAllowList } from './plan/allow.js';
import { parseRenewBefore, type RenewBefore } from './lifecycle/schedule.js';
import { parseRateLimits } from './limits/config.js';
import type { RateLimits } from './limits/config.js';
import type { StoreFormat } from './store/formats.js';
import { LETSENCRYPT, OPTIONS } from './options.js';
import { envValue, flagName, resolveOptions } from './config-env.js';

export { resolveOptions } from './config-env.js';
import { normalizeHostname } from './plan/hostname.js';
import { homedir } from 'node:os';
import { parseListen, type ListenAddress } from './http/address.js';
import { parseKeyFile, type Keyring } from './ha/kv-crypto.js';
import { haTimingProblem } from './ha/timing.js';
import { parseTargetsConfig, type TargetsConfig } from './targets/config.js';
import { parseStaticDomains } from './plan/domains.js';
import { explicitKeys } from './policy/explicit.js';
import { DATACENTER_NAME } from './consul/datacenters.js';

/** The DNS back ends. */
export const DNS_PROVIDERS = ['route53', 'rfc2136', 'exec', 'none'] as const;
export type DnsProviderName = (typeof DNS_PROVIDERS)[number];
const FORMATS: readonly StoreFormat[] = ['haproxy', 'certbot', 'pkcs12'];

/** Everything the daemon needs, validated and frozen. */
export interface Config {
  readonly certDir: string;
  readonly consul: {
    readonly address: string;
    readonly token?: string;
    readonly secure: boolean;
    readonly caFile?: string;
    readonly certFile?: string;
    readonly keyFile?: string;
    readonly wait: string;
    /**
     * `--datacenter`: the datacenters whose catalogs are watched (`all`: every one the servers know). Absent: the
     * agent's own, asked without `dc`. @default absent
     */
    readonly datacenters?: readonly string[];
  };
  readonly notifyKey: string;
  /** Least time between two bumps of the notify key while changes keep coming (`--notify-interval`). @default 5000 */
  readonly notifyIntervalMs: number;
  readonly debug: boolean;
  readonly dryrun: boolean;
  readonly directoryUrl: string;
  readonly caBundle?: string;
  readonly email?: string;
  readonly eab?: { readonly kid: string; readonly hmacKey: string };
  readonly keyType: KeyType;
  readonly dnsProvider: DnsProviderName;
  /** `--challenge`: dns-persist-01 where the CA offers it (else dns-01), always dns-01, or http-01. @default 'dns-01' */
  readonly challenge: ChallengeType;
  /** `--http01-listen`: address of the built-in HTTP-01 responder; absent: none. */
  readonly http01Listen?: ListenAddress;
  /** `--http01-webroot`: folder (absolute) the HTTP-01 token files are written under; absent: none. */
  readonly http01Webroot?: string;
  /** `requestsPerSecond`: `--route53-rps`, the client-side limit of Route53 calls. @default 10 */
  readonly route53: { readonly endpoint?: string; readonly region: string; readonly requestsPerSecond: number };
  readonly rfc2136?: {
    readonly server: string;
    readonly zone?: string;
    readonly tsig?: { readonly name: string; readonly algorithm: string; readonly secret: string };
  };
  readonly execCommand?: string;
  readonly dnsResolvers: readonly string[];
  readonly propagationTimeoutMs: number;
  readonly allowDomains: readonly string[];
  /** `--domain` (whisper's `-d <zone>`): only these zones are handled, compared exactly (not their subzones). Empty: every zone. @default [] */
  readonly domains: readonly string[];
  /**
   * `-a, --acme-key`: the account key file the user named (absolute). Absent: `<folder>/.acme` when it exists, else
   * `~/.acme` when it exists (the last whisper's default), else a new key at `<folder>/.acme`.
   */
  readonly acmeKeyFile?: string;
  /** `-l, --listen-path`: Consul KV prefixes of static entries `<prefix>/<zone>/<host>`, watched. @default [] */
  readonly listenPaths: readonly string[];
  /** `--allow-wildcard`: a `vhost=*` tag may order `*.<zone>`; off, such a service is skipped. @default false */
  readonly allowWildcard: boolean;
  readonly concurrency: number;
  readonly formats: readonly StoreFormat[];
  readonly formatsDir: string;
  readonly renewBefore?: RenewBefore;
  readonly renewIntervalMs: number;
  /** First delay before a failed order is retried (`--retry-base`). @default 30000 */
  readonly retryBaseMs?: number;
  readonly profile?: string;
  readonly rateLimits: RateLimits;
  /**
   * `--ha`: leader election on a Consul lock, the session tied to a TTL check of this instance (`checkTtlS`, shorter
   * than `lockDelayS`). Absent: this instance always issues.
   */
  readonly ha?: { readonly lockKey: string; readonly sessionTtlS: number; readonly lockDelayS: number; readonly checkTtlS: number };
  /** Where certificates live besides the folder. @default 'folder' */
  readonly store?: 'folder' | 'consul';
  /** KV prefix of `--store consul`. @default 'whisper/certs' */
  readonly storePrefix?: string;
  /** `--kv-encryption-key-file`: the keys that encrypt private keys in Consul KV. Absent: stored unencrypted. */
  readonly kvEncryption?: { readonly file: string; readonly keyring: Keyring };
  /** Address of the metrics and health server (`--listen`); absent: no server. */
  readonly listen?: ListenAddress;
  /**
   * `--admin-token-file`: the admin API's bearer token (trimmed; a secret, never logged). Absent: the API is
   * read-only and answers loopback clients only.
   */
  readonly adminToken?: string;
  /** `--admin-token-file` (absolute): recorded in the folder lock so `whisper-ts renew` finds the token. */
  readonly adminTokenFile?: string;
  /** `--history-days`: days of history kept in `.whisper-history.sqlite`. @default 400 */
  readonly historyDays: number;
  /** Delivery targets beside the folder (`--haproxy-socket`, `--target`); absent: the folder alone. */
  readonly targets?: TargetsConfig;
  /** `--config`: the per-certificate policy file (absolute); absent: no file. */
  readonly configFile?: string;
  /**
   * `--static-domains` / `DOMAINS`: certificates that need no Consul service, each a list of names (lowercase ASCII,
   * validated as tags are; `*.` allowed, ordered only with `--allow-wildcard`). @default []
   */
  readonly staticDomains?: readonly (readonly string[])[];
  /**
   * Keys (of `OPTIONS`) of the options given by flag or environment rather than left to their default: the config
   * file's `defaults:` apply only to the others (see `basePolicy`). Absent: none given explicitly.
   */
  readonly explicitOptions?: readonly string[];
}

type Raw = Record<string, unknown>;
type Env = Readonly<Record<string, string | undefined>>;

/** `~/x` → home/x (a path from the environment is not expanded by a shell). */
function expandHome(file: string, home: string): string {
  return file === '~' ? home : file.startsWith('~/') ? `${home}/${file.slice(2)}` : file;
}

/**
 * The zones of `--domain`, normalized. whisper's image passed them as `DOMAIN="-d example.com"`, so `-d` and `--domain`
 * words in a value are dropped and values split on spaces and commas.
 */
function parseDomains(values: readonly string[]): string[] {
  const words = values.flatMap((v) => v.split(/[\s,]+/)).filter((w) => w !== '' && w !== '-d' && w !== '--domain');
  return [...new Set(words.map((w) => {
    try {
      return normalizeHostname(w.replace(/\.$/, ''));
    } catch (err) {
      throw invalid('--domain', `${JSON.stringify(w)} is not a zone name: ${(err as Error).message}`);
    }
  }))];
}

/** A KV prefix of `--listen-path`: no leading slash needed (whisper's README wrote `/whisper/static`), no trailing one. */
function listenPath(value: string): string {
  const key = value.trim().replace(/^\/+/, '').replace(/\/+$/, '');
  if (!key || /[\0\r\n]/.test(key)) throw invalid('--listen-path', `not a valid KV prefix: ${JSON.stringify(value)}`);
  return key;
}

function invalid(option: string, message: string): WhisperError {
  return new WhisperError('CONFIG_INVALID', `${option}: ${message}`);
}

function positiveInt(option: string, value: string, max: number): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1 || Number(value) > max) {
    throw invalid(option, `must be a whole number from 1 to ${max} (got ${JSON.stringify(value)})`);
  }
  return Number(value);
}

function hostPort(option: string, value: string): string {
  if (!/^(\[[0-9a-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/i.test(value)) {
    throw invalid(option, `expected host or host:port (got ${JSON.stringify(value)})`);
  }
  return value;
}

/** A listen address of `option` (`parseListen` names `--listen`). */
function listenOption(option: string, value: string): ListenAddress {
  try {
    return parseListen(value);
  } catch {
    throw invalid(option, `expected host:port such as 127.0.0.1:8402 (got ${JSON.stringify(value)})`);
  }
}

function readSecretFile(option: string, file: string, read: (f: string) => string): string {
  try {
    return read(file).trim();
  } catch (err) {
    throw new WhisperError('CONFIG_INVALID', `${option}: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** Options of {@link buildConfig}. */
export interface BuildConfigOptions {
  /** @default process.env */
  env?: Env;
  /** Working directory the folder is resolved against. @default process.cwd() */
  cwd?: string;
  /** Home folder `~` stands for in paths from the environment. @default os.homedir() */
  home?: string;
  /** Reads files named by options (CA bundle, secrets). @default readFileSync utf8 */
  readFile?: (file: string) => string;
}

/**
 * Validates the command line and environment into a {@link Config}. Throws `CONFIG_INVALID` naming the option.
 */
export function buildConfig(folder: string | undefined, raw: Raw, options: BuildConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const read = options.readFile ?? ((f: string) => readFileSync(f, 'utf8'));
  const o = resolveOptions(raw, env);
  const str = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
  const list = (k: string) => (Array.isArray(o[k]) ? (o[k] as string[]) : []);
  const flag = (k: string) => flagName(OPTIONS.find((s) => s.key === k)!);

  const dir = folder ?? env.WHISPER_CERT_FOLDER;
  if (!dir) throw invalid('<path_to_cert_folder>', 'missing: give the folder where certificates are written');

  const explicitDirectory = typeof raw.directoryUrl === 'string' || envValue(OPTIONS.find((s) => s.key === 'directoryUrl')!, env);
  if (o.staging && explicitDirectory) throw invalid('--staging', 'cannot be combined with --directory-url: pick one');
  const directoryUrl = o.staging ? LETSENCRYPT.staging : str('directoryUrl')!;
  if (!/^https?:\/\//.test(directoryUrl)) throw invalid(flag('directoryUrl'), `not an http(s) URL: ${JSON.stringify(directoryUrl)}`);

  const keyType = str('keyType') as KeyType;
  if (!KEY_TYPES.includes(keyType)) throw invalid(flag('keyType'), `must be one of ${KEY_TYPES.join(', ')} (got ${JSON.stringify(keyType)})`);
  const dnsProvider = str('dnsProvider') as DnsProviderName;
  if (!DNS_PROVIDERS.includes(dnsProvider)) throw invalid(flag('dnsProvider'), `must be one of ${DNS_PROVIDERS.join(', ')} (got ${JSON.stringify(dnsProvider)})`);

  const challenge = str('challenge') as ChallengeType;
  if (!CHALLENGE_TYPES.includes(challenge)) throw invalid(flag('challenge'), `must be one of ${CHALLENGE_TYPES.join(', ')} (got ${JSON.stringify(challenge)})`);
  // dns-01 records change every order: nobody can make them by hand in time.
  if (dnsProvider === 'none' && challenge === 'dns-01') throw invalid(flag('dnsProvider'), 'none writes no DNS: only with --challenge dns-persist-01 or http-01');
  const http01Listen = str('http01Listen') ? listenOption('--http01-listen', str('http01Listen')!) : undefined;
  const http01Webroot = str('http01Webroot') ? resolve(options.cwd ?? process.cwd(), expandHome(str('http01Webroot')!.trim(), options.home ?? homedir())) : undefined;
  if (http01Listen && http01Webroot) throw invalid('--http01-webroot', 'cannot be combined with --http01-listen: pick one');
  if (challenge === 'http-01' && !http01Listen && !http01Webroot) throw invalid(flag('challenge'), 'http-01 needs --http01-listen or --http01-webroot');

  const formats = list('format') as StoreFormat[];
  for (const f of formats) if (!FORMATS.includes(f)) throw invalid('--format', `must be one of ${FORMATS.join(', ')} (got ${JSON.stringify(f)})`);

  const allowDomains = list('allowDomain');
  try {
    createAllowList(allowDomains);
  } catch (err) {
    throw invalid('--allow-domain', (err as Error).message);
  }
  const dnsResolvers = list('dnsResolver').map((r) => hostPort('--dns-resolver', r));

  let rfc2136: Config['rfc2136'];
  if (dnsProvider === 'rfc2136') {
    const server = str('rfc2136Server');
    if (!server) throw invalid('--rfc2136-server', 'required with --dns-provider rfc2136');
    const name = str('rfc2136TsigName');
    const secretFile = str('rfc2136TsigSecretFile');
    const secret = secretFile ? readSecretFile('--rfc2136-tsig-secret-file', secretFile, read) : env.WHISPER_RFC2136_TSIG_SECRET;
    if (name && !secret) throw invalid('--rfc2136-tsig-name', 'needs a secret: --rfc2136-tsig-secret-file or WHISPER_RFC2136_TSIG_SECRET');
    if (secret && !name) throw invalid('--rfc2136-tsig-name', 'required when a TSIG secret is given');
    if (secret && !/^[A-Za-z0-9+/]+={0,2}$/.test(secret)) throw invalid('--rfc2136-tsig-secret-file', 'the TSIG secret is not base64');
    rfc2136 = {
      server: hostPort('--rfc2136-server', server),
      ...(str('rfc2136Zone') ? { zone: str('rfc2136Zone')! } : {}),
      ...(name && secret ? { tsig: { name, algorithm: str('rfc2136TsigAlgorithm')!, secret } } : {}),
    };
  }
  const execCommand = str('execCommand');
  if (dnsProvider === 'exec' && !execCommand) throw invalid('--exec-command', 'required with --dns-provider exec');

  const eabKid = str('eabKid');
  const eabHmacKey = str('eabHmacKey');
  if (Boolean(eabKid) !== Boolean(eabHmacKey)) throw invalid('--eab-kid', 'External Account Binding needs both --eab-kid and --eab-hmac-key');

  const caBundleFile = str('caBundle');
  const caBundle = caBundleFile ? readSecretFile('--ca-bundle', caBundleFile, read) : undefined;
  if (caBundle !== undefined && !caBundle.includes('-----BEGIN CERTIFICATE-----')) throw invalid('--ca-bundle', `${caBundleFile} holds no PEM certificate`);

  const consulWait = str('consulWait')!;
  if (!/^\d+(ms|s|m)$/.test(consulWait)) throw invalid('--consul-wait', `expected a duration such as 30s or 5m (got ${JSON.stringify(consulWait)})`);
  const datacenters = [...new Set(list('datacenter').map((dc) => dc.trim()))];
  for (const dc of datacenters) if (!DATACENTER_NAME.test(dc)) throw invalid('--datacenter', `not a Consul datacenter name: ${JSON.stringify(dc)} (letters, digits, - and _; or all)`);
  const notifyKey = str('notify')!;
  if (!notifyKey || notifyKey.startsWith('/') || /[\0\r\n]/.test(notifyKey)) throw invalid('--notify', `not a valid KV key: ${JSON.stringify(notifyKey)}`);

  const kvKey = (option: string, key: string) => {
    if (!key || key.startsWith('/') || key.endsWith('/') || /[\0\r\n]/.test(key)) throw invalid(option, `not a valid KV key: ${JSON.stringify(key)}`);
    return key;
  };
  const storeKind = str('store')!;
  if (storeKind !== 'folder' && storeKind !== 'consul') throw invalid('--store', `must be folder or consul (got ${JSON.stringify(storeKind)})`);
  const storePrefix = kvKey('--store-prefix', str('storePrefix')!);
  const lockDelayText = str('lockDelay')!;
  if (!/^\d+$/.test(lockDelayText.trim()) || Number(lockDelayText) > 60) throw invalid('--lock-delay', `must be a whole number from 0 to 60 (got ${JSON.stringify(lockDelayText)})`);
  const sessionTtlS = positiveInt('--session-ttl', str('sessionTtl')!, 3600);
  if (sessionTtlS < 10) throw invalid('--session-ttl', `Consul's minimum session TTL is 10 seconds (got ${sessionTtlS})`);
  const checkTtlS = positiveInt('--check-ttl', str('checkTtl')!, 60);
  if (checkTtlS < 2) throw invalid('--check-ttl', `must be a whole number from 2 to 60 (got ${checkTtlS})`);
  const lockDelayS = Number(lockDelayText);
  const overlap = o.ha === true ? haTimingProblem({ checkTtlS, lockDelayS }) : undefined;
  if (overlap) throw invalid('--check-ttl', overlap);
  const ha = o.ha === true ? { lockKey: kvKey('--lock-key', str('lockKey')!), sessionTtlS, lockDelayS, checkTtlS } : undefined;

  const kvKeyFile = str('kvEncryptionKeyFile');
  if (kvKeyFile && o.ha !== true && storeKind !== 'consul') throw invalid('--kv-encryption-key-file', 'only with --ha or --store consul: nothing else keeps keys in Consul KV');
  const kvEncryption = kvKeyFile ? { file: kvKeyFile, keyring: parseKeyFile(readSecretFile('--kv-encryption-key-file', kvKeyFile, read), kvKeyFile) } : undefined;

  const certDir = resolve(options.cwd ?? process.cwd(), dir);
  const acmeKey = str('acmeKey');
  const acmeKeyFile = acmeKey ? resolve(options.cwd ?? process.cwd(), expandHome(acmeKey.trim(), options.home ?? homedir())) : undefined;
  const renewBefore = str('renewBefore') ? parseRenewBefore(str('renewBefore')!) : undefined;
  const profile = str('profile');
  if (profile !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(profile)) throw invalid('--profile', `not a profile name: ${JSON.stringify(profile)}`);
  const rateLimits = parseRateLimits(str('rateLimits')!);
  const listen = str('listen') ? parseListen(str('listen')!) : undefined;
  const home = options.home ?? homedir();
  const cwd = options.cwd ?? process.cwd();
  const file = (k: string) => (str(k) ? resolve(cwd, expandHome(str(k)!.trim(), home)) : undefined);
  const targets = parseTargetsConfig({
    haproxySockets: list('haproxySocket'),
    targets: list('target'),
    iamDeleteExpired: o.iamDeleteExpired === true,
    ...(str('awsEndpoint') ? { awsEndpoint: str('awsEndpoint')! } : {}),
    ...(str('s3KmsKey') ? { s3KmsKey: str('s3KmsKey')! } : {}),
    ...(file('sshKey') ? { sshKey: file('sshKey')! } : {}),
    ...(file('sshKnownHosts') ? { sshKnownHosts: file('sshKnownHosts')! } : {}),
    ...(str('sftpMode') ? { sftpMode: str('sftpMode')! } : {}),
    ...(str('sftpUid') ? { sftpUid: str('sftpUid')! } : {}),
    ...(str('sftpGid') ? { sftpGid: str('sftpGid')! } : {}),
  });
  const configFile = file('config');
  const adminTokenFile = file('adminTokenFile');
  const adminToken = adminTokenFile ? readSecretFile('--admin-token-file', adminTokenFile, read).trim() : undefined;
  if (adminTokenFile && (adminToken === undefined || adminToken.length < 16)) throw invalid('--admin-token-file', `${adminTokenFile} must hold a token of at least 16 characters`);
  if (adminTokenFile && !/^[\x21-\x7e]+$/.test(adminToken!)) throw invalid('--admin-token-file', `${adminTokenFile} must hold one token of printable ASCII without spaces`);
  const staticDomains = parseStaticDomains(str('staticDomains'), flag('staticDomains'));
  const explicitOptions = explicitKeys(raw, env);
  const config: Config = {
    certDir,
    consul: {
      address: str('consul')!,
      secure: o.consulTls === true,
      wait: consulWait,
      ...(datacenters.length > 0 ? { datacenters } : {}),
      ...(str('consulToken') ? { token: str('consulToken')! } : {}),
      ...(str('consulCaFile') ? { caFile: str('consulCaFile')! } : {}),
      ...(str('consulCertFile') ? { certFile: str('consulCertFile')! } : {}),
      ...(str('consulKeyFile') ? { keyFile: str('consulKeyFile')! } : {}),
    },
    notifyKey,
    notifyIntervalMs: positiveInt('--notify-interval', str('notifyInterval')!, 3600) * 1000,
    debug: o.debug === true,
    dryrun: o.dryrun === true,
    directoryUrl,
    ...(caBundle ? { caBundle } : {}),
    ...(str('email') ? { email: str('email')! } : {}),
    ...(eabKid && eabHmacKey ? { eab: { kid: eabKid, hmacKey: eabHmacKey } } : {}),
    keyType,
    dnsProvider,
    challenge,
    ...(http01Listen ? { http01Listen } : {}),
    ...(http01Webroot ? { http01Webroot } : {}),
    route53: { region: str('route53Region')!, requestsPerSecond: positiveInt('--route53-rps', str('route53Rps')!, 100), ...(str('route53Endpoint') ? { endpoint: str('route53Endpoint')! } : {}) },
    ...(rfc2136 ? { rfc2136 } : {}),
    ...(execCommand ? { execCommand } : {}),
    dnsResolvers,
    propagationTimeoutMs: positiveInt('--propagation-timeout', str('propagationTimeout')!, 3600) * 1000,
    allowDomains,
    allowWildcard: o.allowWildcard === true,
    domains: parseDomains(list('domain')),
    ...(acmeKeyFile ? { acmeKeyFile } : {}),
    listenPaths: [...new Set(list('listenPath').map(listenPath))],
    concurrency: positiveInt('--concurrency', str('concurrency')!, 512),
    formats: formats.length > 0 ? formats : ['haproxy'],
    formatsDir: resolve(certDir, str('formatsDir') ?? 'formats'),
    ...(renewBefore ? { renewBefore } : {}),
    renewIntervalMs: positiveInt('--renew-interval', str('renewInterval')!, 24 * 30) * 3_600_000,
    retryBaseMs: positiveInt('--retry-base', str('retryBase')!, 3600) * 1000,
    ...(profile ? { profile } : {}),
    rateLimits,
    ...(ha ? { ha } : {}),
    store: storeKind,
    storePrefix,
    ...(kvEncryption ? { kvEncryption } : {}),
    ...(listen ? { listen } : {}),
    ...(adminToken ? { adminToken, adminTokenFile } : {}),
    historyDays: positiveInt('--history-days', str('historyDays')!, 36_500),
    ...(targets ? { targets } : {}),
    ...(configFile ? { configFile } : {}),
    ...(staticDomains.length > 0 ? { staticDomains } : {}),
    explicitOptions,
  };
  return Object.freeze(config);
}
