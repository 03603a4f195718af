import ssh2 from 'ssh2';
import type { ConnectConfig, SFTPWrapper, ServerHostKeyAlgorithm } from 'ssh2';
import { WhisperError } from '../errors.js';
import type { HostKeyType, KnownHosts } from './known-hosts.js';
import { checkHostKey, pinnedKeyTypes, type HostKeyVerdict } from './known-hosts-match.js';
import { connectError, hostKeyError, type SftpErrorContext } from './sftp-errors.js';

const { Client } = ssh2;

/** What {@link openSftpSession} needs. */
export interface SftpSessionOptions {
  readonly ctx: SftpErrorContext;
  /** The private key (OpenSSH or PEM, unencrypted): a secret, handed to ssh2 only. */
  readonly privateKey: Buffer;
  readonly knownHosts: KnownHosts;
  /** Aborted at the deadline or on shutdown: the connection is destroyed and pending calls fail. */
  readonly signal: AbortSignal;
  /** Deadline of the handshake, and the one the signal's timeout stands for (for messages), ms. */
  readonly timeoutMs: number;
}

/** An open SFTP channel on its own SSH connection. */
export interface SftpSession {
  readonly sftp: SFTPWrapper;
  /** Runs one SFTP request, failing at once when the session's signal aborts. */
  call<T>(run: (cb: (err: Error | null | undefined, value?: T) => void) => void): Promise<T>;
  /** Ends the connection; safe to call twice. */
  close(): void;
}

/** The host key algorithms to offer for the pinned key types, so that the server presents a key we can check. */
export function hostKeyAlgorithms(types: readonly HostKeyType[]): ServerHostKeyAlgorithm[] {
  return types.flatMap((t): ServerHostKeyAlgorithm[] =>
    t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t],
  );
}

/** The reason a signal aborted, as a `WhisperError`. */
export function abortError(ctx: SftpErrorContext, signal: AbortSignal, timeoutMs: number): WhisperError {
  const reason: unknown = signal.reason;
  if (reason instanceof WhisperError) return reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new WhisperError('TARGET_SFTP', `${ctx.name}: ${ctx.host}:${ctx.port} timed out (${timeoutMs} ms)`, {
      retryable: true,
      cause: reason,
    });
  }
  return new WhisperError('ABORTED', `${ctx.name}: aborted`, { cause: reason });
}

/**
 * Connects with key authentication only, checks the server's host key against the pinned keys (no fallback:
 * an unknown or different key ends the handshake), and opens the SFTP subsystem.
 * @throws WhisperError `TARGET_SFTP` (see `sftp-errors.ts`), or `ABORTED` when `signal` aborts.
 */
export function openSftpSession(options: SftpSessionOptions): Promise<SftpSession> {
  const { ctx, signal } = options;
  if (signal.aborted) return Promise.reject(abortError(ctx, signal, options.timeoutMs));
  const types = pinnedKeyTypes(options.knownHosts, ctx.host, ctx.port);
  if (types.length === 0) {
    return Promise.reject(hostKeyError(ctx, { accepted: false, reason: 'unknown-host' }, undefined));
  }
  const client = new Client();
  let refused: { verdict: HostKeyVerdict; key: Buffer } | undefined;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    signal.removeEventListener('abort', onAbort);
    client.end();
    client.destroy();
  };
  const aborted = new Promise<never>((_, reject) => {
    signal.addEventListener('abort', () => reject(abortError(ctx, signal, options.timeoutMs)), { once: true });
  });
  aborted.catch(() => undefined);
  const onAbort = () => close();
  signal.addEventListener('abort', onAbort, { once: true });

  const config: ConnectConfig = {
    host: ctx.host,
    port: ctx.port,
    username: ctx.user,
    privateKey: options.privateKey,
    authHandler: ['publickey'],
    readyTimeout: options.timeoutMs,
    keepaliveInterval: 0,
    algorithms: { serverHostKey: hostKeyAlgorithms(types) },
    hostVerifier: (key: Buffer) => {
      const verdict = checkHostKey(options.knownHosts, ctx.host, ctx.port, key);
      if (!verdict.accepted) refused = { verdict, key };
      return verdict.accepted;
    },
  };

  const ready = new Promise<SFTPWrapper>((resolve, reject) => {
    client.once('ready', () => {
      client.sftp((err, sftp) => (err ? reject(connectError(ctx, err)) : resolve(sftp)));
    });
    client.on('error', (err) => reject(refused ? hostKeyError(ctx, refused.verdict, refused.key) : connectError(ctx, err)));
    client.once('close', () =>
      reject(refused ? hostKeyError(ctx, refused.verdict, refused.key) : connectError(ctx, new Error('connection closed'))),
    );
    try {
      client.connect(config);
      // Many small requests in turn: without this, Nagle's algorithm adds tens of ms to each round trip.
      client.setNoDelay(true);
    } catch (err) {
      reject(connectError(ctx, err));
    }
  });

  return Promise.race([ready, aborted]).then(
    (sftp): SftpSession => ({
      sftp,
      call: <T>(run: (cb: (err: Error | null | undefined, value?: T) => void) => void) =>
        Promise.race([
          new Promise<T>((resolve, reject) => {
            try {
              run((err, value) => (err ? reject(err) : resolve(value as T)));
            } catch (err) {
              reject(err);
            }
          }),
          aborted,
        ]),
      close,
    }),
    (err: unknown) => {
      close();
      throw err;
    },
  );
}
