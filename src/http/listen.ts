import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WhisperError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { formatListen, type ListenAddress } from './address.js';

/** A server listening: its bound port (useful with port 0), and a stop that drops open connections (safe to repeat). */
export interface Listening {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Binds `server` to `listen`, for the option `option` (`--listen`, `--http01-listen`): an address that cannot be bound
 * fails with `CONFIG_INVALID` naming the option and why; later server errors are logged. `what` names the server in
 * the log line that says where it listens.
 */
export async function listenOn(server: Server, listen: ListenAddress, option: string, what: string, log: Logger): Promise<Listening> {
  const where = formatListen(listen);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'the address is already in use' : err.code === 'EACCES' ? 'permission denied' : err.message;
      reject(new WhisperError('CONFIG_INVALID', `${option} ${where}: cannot listen: ${why}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen(listen.port, listen.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => log.warn({ err: errorMessage(err) }, `${what} error`));
  const port = (server.address() as AddressInfo).port;
  log.info({ listen: formatListen({ host: listen.host, port }) }, `${what} listening`);
  let closed: Promise<void> | undefined;
  return {
    port,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
