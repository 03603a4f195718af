import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { tempFileName } from './atomic.js';

/** What a probe file stands for: its name is a temporary file's of this (`..whisper-probe.<hex>.tmp`), cleaned at start. */
export const PROBE_TARGET = '.whisper-probe';

/** The file operations of {@link probeWritable}; tests inject failures and hangs through it. */
export interface ProbeFs {
  open(file: string, flags: string, mode: number): Promise<{ write(data: Uint8Array): Promise<unknown>; close(): Promise<void> }>;
  unlink(file: string): Promise<void>;
}

const nodeProbeFs: ProbeFs = { open: fsp.open, unlink: fsp.unlink };
const BYTE = Uint8Array.of(0x0a);

/**
 * Proves that `folder` takes a new file: creates one with a unique name (`open` with `wx`, mode 0600), writes one
 * byte, closes it and always removes it again. Unlike permission bits this catches a read-only mount (`EROFS`), a
 * full disk (`ENOSPC`) and a missing folder (`ENOENT`). Rejects with the first error (its `code` tells which).
 */
export async function probeWritable(folder: string, fs: ProbeFs = nodeProbeFs): Promise<void> {
  const file = path.join(folder, tempFileName(PROBE_TARGET));
  const fh = await fs.open(file, 'wx', 0o600);
  let written = false;
  try {
    try {
      await fh.write(BYTE);
    } finally {
      await fh.close();
    }
    written = true;
  } finally {
    // The first failure is the one reported; a failed removal after a good write is a failure too.
    // ENOENT: the start-up clean-up of temporary files took it already.
    await fs.unlink(file).catch((err: unknown) => {
      if (written && (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    });
  }
}
