import { join } from 'node:path';
import { binaries } from './paths.js';
import { freePort } from './ports.js';
import { httpOk, startProcess, type ServerProcess } from './proc.js';

/** A running moto server (the Route53 emulator). */
export interface Moto {
  readonly process: ServerProcess;
  readonly endpoint: string;
  /** Clear every emulated resource. */
  reset(): Promise<void>;
  stop(graceMs?: number): Promise<void>;
}

/** Starts moto's server mode on 127.0.0.1. */
export async function startMoto(dir: string): Promise<Moto> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const proc = await startProcess({
    name: 'moto',
    command: binaries().motoServer,
    args: ['-H', '127.0.0.1', '-p', String(port)],
    logFile: join(dir, 'moto.log'),
    ready: () => httpOk(`${endpoint}/moto-api/`),
  });
  return {
    process: proc,
    endpoint,
    reset: async () => {
      if (!(await httpOk(`${endpoint}/moto-api/reset`, { method: 'POST' }))) throw new Error('moto reset failed');
    },
    stop: (g) => proc.stop(g),
  };
}
