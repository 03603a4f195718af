import { findDaemon } from '../ops/client.js';
import { openDirectOps } from '../ops/direct.js';
import { acquireFolderLock } from '../ops/lock.js';
import { ensureDir } from '../store/atomic.js';
import type { OpsDeps } from './common.js';

/** The real {@link OpsDeps}: the daemon's API, the folder lock, the direct actions. */
export const defaultOpsDeps: OpsDeps = {
  findDaemon: (folder, opts) => findDaemon(folder, opts),
  acquireLock: async (folder, log) => {
    // `import` into a folder no daemon has used yet: the lock lives in it.
    await ensureDir(folder);
    return acquireFolderLock(folder, { kind: 'command' }, { wait: false, log });
  },
  openDirect: (config, log) => openDirectOps(config, log),
};
