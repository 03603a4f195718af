import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import { saveState } from './file.js';
import type { CertState, WhisperState } from './types.js';

/**
 * The daemon's in-memory state and its file. Changes are applied at once in memory and written in the
 * background, one write at a time (the latest state wins), so a burst of changes costs one or two writes.
 */
export class StateKeeper {
  private dirty = false;
  private writing: Promise<void> | undefined;

  constructor(
    private readonly dir: string,
    private current: WhisperState,
    private readonly log: Logger,
    private readonly save: (dir: string, state: WhisperState) => Promise<void> = saveState,
  ) {}

  /** The state now. */
  get state(): WhisperState {
    return this.current;
  }

  /** One certificate's state. */
  cert(id: string): CertState {
    return this.current.certs[id] ?? {};
  }

  /** Replaces one certificate's state (`undefined` fields are dropped) and schedules a write. */
  setCert(id: string, update: (old: CertState) => CertState): void {
    const next = Object.fromEntries(Object.entries(update(this.cert(id))).filter(([, v]) => v !== undefined)) as CertState;
    this.current = { ...this.current, certs: { ...this.current.certs, [id]: next } };
    this.schedule();
  }

  /** Replaces the budget history and schedules a write. */
  setBudget(budget: WhisperState['budget']): void {
    this.current = { ...this.current, budget };
    this.schedule();
  }

  /** Resolves when everything changed so far is on disk (or failed and was logged). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private schedule(): void {
    this.dirty = true;
    this.writing ??= this.loop().finally(() => (this.writing = undefined));
  }

  private async loop(): Promise<void> {
    while (this.dirty) {
      this.dirty = false;
      try {
        await this.save(this.dir, this.current);
      } catch (err) {
        // The state is an aid (budget, status), never a reason to stop issuing: keep going and retry on the next change.
        this.log.warn({ code: 'STORE_WRITE' }, `cannot write the state file: ${errorMessage(err)}`);
        return;
      }
    }
  }
}
