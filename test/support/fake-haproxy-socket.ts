import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A unix socket standing for a HAProxy without a runtime API: it records the first line of each command and answers
 * that it does not know it, so every delivery to it fails. `cleanups` gets its stop.
 */
export async function refusingHaproxySocket(cleanups: Array<() => Promise<unknown>>): Promise<{ path: string; commands: string[] }> {
  // A unix socket path must stay short (108 bytes): its own temporary folder.
  const dir = await mkdtemp(join(tmpdir(), 'hxf-'));
  const path = join(dir, 'admin.sock');
  const commands: string[] = [];
  const server = createServer((c) => {
    c.on('data', (d) => {
      commands.push(d.toString('utf8').split('\n')[0] ?? '');
      c.end('Unknown command, but maybe one of the following ones is a better match:\n');
    });
    c.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, resolve));
  cleanups.push(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });
  return { path, commands };
}
