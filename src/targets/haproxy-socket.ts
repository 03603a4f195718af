import { connect as netConnect, isIP, type Socket } from 'node:net';
import { WhisperError, errorMessage } from '../errors.js';
import { systemTimers, type Timers } from '../time.js';

/** Where HAProxy's runtime API listens: a `stats socket` line's unix path, or its `host:port`. */
export type SocketAddress =
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number };

/**
 * Reads `--haproxy-socket`: a unix socket path (`/run/haproxy/admin.sock`, or any value holding a `/`, optionally
 * prefixed `unix@` as in HAProxy's configuration), or `host:port` / `[ipv6]:port` (`ipv4@`/`ipv6@` prefixes allowed).
 * @throws WhisperError `TARGET_CONFIG` when it is neither.
 */
export function parseSocketAddress(spec: string): SocketAddress {
  const s = spec.trim();
  const invalid = () => new WhisperError('TARGET_CONFIG', `--haproxy-socket ${JSON.stringify(spec)}: expected a unix socket path or host:port`);
  if (s === '' || /[\s;]/.test(s)) throw invalid();
  if (s.startsWith('unix@')) return { kind: 'unix', path: s.slice(5) };
  const tcp = s.replace(/^ipv[46]@/, '');
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:/[\]]+)):(\d{1,5})$/.exec(tcp);
  if (m) {
    const port = Number(m[3]);
    const host = m[1] ?? m[2] ?? '';
    if (port < 1 || port > 65535 || (m[1] !== undefined && isIP(host) !== 6)) throw invalid();
    return { kind: 'tcp', host, port };
  }
  if (s.includes('/')) return { kind: 'unix', path: s };
  throw invalid();
}

/** How an address reads in logs and errors: the path, or `host:port`. */
export function formatSocketAddress(address: SocketAddress): string {
  if (address.kind === 'unix') return address.path;
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** Options of {@link runtimeCommand}. */
export interface RuntimeCommandOptions {
  /** Time for connecting, sending and reading the whole answer. @default 5000 */
  timeoutMs?: number;
  /** Cancels the command: the connection is closed and the call rejects with `ABORTED`. */
  signal?: AbortSignal;
  /** Timers for the timeout (tests pass fakes). @default systemTimers */
  timers?: Timers;
  /** Opens the connection (tests may pass their own). @default node:net connect */
  connect?: (address: SocketAddress) => Socket;
  /** Largest answer read before giving up. @default 1048576 */
  maxAnswerBytes?: number;
}

/** The default {@link RuntimeCommandOptions.timeoutMs}. */
export const DEFAULT_RUNTIME_TIMEOUT_MS = 5000;

function defaultConnect(address: SocketAddress): Socket {
  return address.kind === 'unix' ? netConnect({ path: address.path }) : netConnect({ host: address.host, port: address.port });
}

/**
 * Sends one command to HAProxy's runtime API (non-interactive mode: HAProxy answers, then closes) and returns the
 * answer's text. `command` is one line; a multi-line payload (`set ssl cert <file> <<`) goes in `command` after its
 * first newline and must end with an empty line, which {@link payloadCommand} takes care of. HAProxy reports
 * errors as text: the callers check each answer (`haproxy-commands.ts`).
 * @throws WhisperError `TARGET_HAPROXY`, retryable, when the socket cannot be reached, breaks or times out;
 *   `ABORTED` when `signal` aborts.
 */
export function runtimeCommand(address: SocketAddress, command: string, options: RuntimeCommandOptions = {}): Promise<string> {
  const timers = options.timers ?? systemTimers;
  const timeoutMs = options.timeoutMs ?? DEFAULT_RUNTIME_TIMEOUT_MS;
  const maxBytes = options.maxAnswerBytes ?? 1024 * 1024;
  const where = formatSocketAddress(address);
  const verb = command.split(/[\n<]/, 1)[0]!.trim().split(/\s+/).slice(0, 3).join(' ');
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(new WhisperError('ABORTED', `HAProxy ${where}: ${verb} aborted`));
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const socket = (options.connect ?? defaultConnect)(address);
    const finish = (err: WhisperError | undefined) => {
      if (done) return;
      done = true;
      timers.clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const fail = (what: string, cause?: unknown) =>
      finish(new WhisperError('TARGET_HAPROXY', `HAProxy runtime API ${where}: ${verb}: ${what}`, { retryable: true, cause }));
    const onAbort = () => finish(new WhisperError('ABORTED', `HAProxy ${where}: ${verb} aborted`, { cause: signal?.reason }));
    const timer = timers.setTimeout(() => fail(`no complete answer within ${timeoutMs} ms`), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('connect', () => socket.write(command.endsWith('\n') ? command : `${command}\n`));
    socket.on('data', (data: Buffer) => {
      size += data.length;
      if (size > maxBytes) return fail(`answer larger than ${maxBytes} bytes`);
      chunks.push(data);
    });
    socket.on('end', () => finish(undefined));
    socket.on('close', () => finish(undefined));
    socket.on('error', (err) => fail(`cannot talk to the socket (${errorMessage(err)})`, err));
  });
}

/**
 * A command with a multi-line payload (HAProxy ≥ 2.2): `<command> <<`, the payload's lines without empty ones (an
 * empty line ends the payload), then the empty line.
 */
export function payloadCommand(command: string, payload: string): string {
  const lines = payload.replace(/\r\n?/g, '\n').split('\n').filter((l) => l.trim() !== '');
  return `${command} <<\n${lines.join('\n')}\n\n`;
}
