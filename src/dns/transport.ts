import { createSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import { errorMessage, WhisperError } from '../errors.js';

/** Where a DNS server listens. */
export interface DnsServerAddress {
  readonly host: string;
  readonly port: number;
}

/** Options of {@link exchange}, {@link sendUdp} and {@link sendTcp}. */
export interface ExchangeOptions {
  /** Give up on one attempt (UDP, then TCP) after this long. @default 5000 */
  readonly timeoutMs?: number;
  /** Stops waiting; the call rejects with `ABORTED`. */
  readonly signal?: AbortSignal;
  /** Skip UDP and use TCP at once (large messages). @default false */
  readonly tcp?: boolean;
}

/** Parses `host`, `host:port`, `[v6]:port` or a bare IPv6 address. */
export function parseServer(server: string, defaultPort = 53): DnsServerAddress {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(server);
  let host: string;
  let port: string | undefined;
  if (bracketed) [, host = '', port] = bracketed;
  else if (isIPv6(server)) host = server;
  else [host = '', port] = server.split(/:(?=\d*$)/);
  const portNumber = port === undefined ? defaultPort : Number(port);
  if (host === '' || !Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535) {
    throw new WhisperError('CONFIG_INVALID', `not a DNS server address (host:port): ${JSON.stringify(server)}`);
  }
  return { host, port: portNumber };
}

/** `host:port` of an address, with brackets for IPv6. */
export function formatServer(server: DnsServerAddress): string {
  return isIPv6(server.host) ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

/**
 * Runs one attempt: `start` wires the I/O and reports through `settle`; a timer and the signal end it.
 * `cleanup` always runs, whatever settled it.
 */
function attempt(
  what: string,
  options: ExchangeOptions,
  start: (settle: (err: Error | undefined, value?: Buffer) => void) => () => void,
): Promise<Buffer> {
  const timeoutMs = options.timeoutMs ?? 5000;
  return new Promise<Buffer>((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new WhisperError('ABORTED', `${what}: aborted`, { cause: options.signal.reason }));
      return;
    }
    let done = false;
    let cleanup = (): void => undefined;
    const settle = (err: Error | undefined, value?: Buffer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      try {
        cleanup();
      } finally {
        if (err) reject(err);
        else resolve(value ?? Buffer.alloc(0));
      }
    };
    const onAbort = (): void => settle(new WhisperError('ABORTED', `${what}: aborted`, { cause: options.signal?.reason }));
    const timer = setTimeout(
      () => settle(new WhisperError('DNS_PROVIDER', `${what}: no answer within ${timeoutMs} ms`, { retryable: true })),
      timeoutMs,
    );
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      cleanup = start(settle);
    } catch (err) {
      settle(networkError(what, err));
    }
  });
}

function networkError(what: string, err: unknown): WhisperError {
  return new WhisperError('DNS_PROVIDER', `${what}: ${errorMessage(err)}`, { retryable: true, cause: err });
}

/**
 * Sends a message over UDP and resolves with the first datagram from the server that carries the same id.
 * Datagrams with another id are ignored (late answers, spoofing attempts).
 */
export function sendUdp(message: Buffer, server: DnsServerAddress, options: ExchangeOptions = {}): Promise<Buffer> {
  const what = `DNS over UDP to ${formatServer(server)}`;
  const id = message.readUInt16BE(0);
  return attempt(what, options, (settle) => {
    const socket = createSocket(isIPv6(server.host) ? 'udp6' : 'udp4');
    socket.on('error', (err) => settle(networkError(what, err)));
    socket.on('message', (msg) => {
      if (msg.length >= 12 && msg.readUInt16BE(0) === id) settle(undefined, msg);
    });
    // connect() makes the kernel drop datagrams from any other address
    socket.connect(server.port, server.host, () => {
      socket.send(message, (err) => {
        if (err) settle(networkError(what, err));
      });
    });
    return () => socket.close();
  });
}

/** Sends a message over TCP (two-byte length prefix) and resolves with the answer. */
export function sendTcp(message: Buffer, server: DnsServerAddress, options: ExchangeOptions = {}): Promise<Buffer> {
  const what = `DNS over TCP to ${formatServer(server)}`;
  const id = message.readUInt16BE(0);
  return attempt(what, options, (settle) => {
    const socket = connect({ host: server.host, port: server.port });
    let received = Buffer.alloc(0);
    socket.on('error', (err) => settle(networkError(what, err)));
    socket.on('close', () => settle(new WhisperError('DNS_PROVIDER', `${what}: connection closed before a full answer`, { retryable: true })));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 2) return;
      const length = received.readUInt16BE(0);
      if (received.length < 2 + length) return;
      const answer = received.subarray(2, 2 + length);
      if (answer.length < 12 || answer.readUInt16BE(0) !== id) {
        settle(new WhisperError('DNS_PROVIDER', `${what}: answer does not match the query id`, { retryable: true }));
      } else settle(undefined, Buffer.from(answer));
    });
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16BE(message.length);
    socket.write(Buffer.concat([prefix, message]));
    return () => socket.destroy();
  });
}

/**
 * Sends one message and returns the raw answer: over UDP first, again over TCP when the answer is
 * truncated (TC) or the message is too large for a plain UDP datagram.
 */
export async function exchange(message: Buffer, server: DnsServerAddress, options: ExchangeOptions = {}): Promise<Buffer> {
  if (options.tcp || message.length > 512) return sendTcp(message, server, options);
  const answer = await sendUdp(message, server, options);
  const truncated = ((answer[2] ?? 0) & 0x02) !== 0;
  return truncated ? sendTcp(message, server, options) : answer;
}
