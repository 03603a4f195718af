import { errorMessage, isWhisperError } from '../errors.js';
import type { Logger } from '../log.js';
import type { WantedCert } from '../plan/types.js';
import type { StateKeeper } from '../state/keeper.js';
import { isMultiHostId, isValidId } from '../store/ids.js';
import type { CertStore, StoredCert } from '../store/types.js';
import type { OnRemoval } from '../policy/types.js';
import { superseded, type SupersedeFile, type SupersedeVerdict } from './supersede.js';
import { dueForRemoval } from './unwanted.js';

/** What {@link Retirer} needs: the folder, the state, and the plan as it is at each moment. */
export interface RetirerDeps {
  readonly store: CertStore;
  readonly state: StateKeeper;
  readonly log: Logger;
  /** Files changed: bump the notify key, so HAProxy reloads once the folder is consistent. */
  readonly notify: (files: readonly string[]) => void;
  /** The plan's certificates now (asked again right before each removal: the plan moves while files are read). */
  readonly wanted: () => readonly WantedCert[];
  /** Queues a certificate again: one that became wanted while its file was being removed. */
  readonly requeue: (id: string) => void;
  /**
   * A superseded file was removed (`path`: where its HAProxy file was): the delivery targets take it away too
   * (`targets/manager.ts`; returns at once, never throws). @default none
   */
  readonly removed?: (item: { readonly id: string; readonly path: string }) => void;
}

/**
 * The effects of {@link superseded}, in one place: after a certificate is written and at each sweep, removes the
 * superseded files whisper-ts wrote (its HAProxy file, extra formats and state entry, then a notify) and warns of
 * superseded files it did not write. A file is whisper-ts's own while the state records its serial (`written`).
 * Never throws: a removal that fails is logged and tried again at the next sweep. Runs one at a time, so two jobs
 * that finish together do not judge the same file twice.
 */
export class Retirer {
  private chain: Promise<void> = Promise.resolve();
  /**
   * Names of the files last read, with their serial: a file of whisper-ts's that no longer holds a wanted name
   * (a service gone, its file kept) is not read again after every write while its serial is the one recorded.
   */
  private readonly known = new Map<string, { readonly serial: string; readonly names: readonly string[]; readonly path: string }>();

  constructor(private readonly deps: RetirerDeps) {}

  /**
   * Once `written`, the file of wanted certificate `cert`, is in place (just written, or found valid when first
   * looked at since start: a run stopped between a write and a removal). Reads only the files it could supersede.
   */
  check(cert: WantedCert, written: StoredCert): Promise<void> {
    return this.serial(() => this.judgeWrite(cert, written));
  }

  /** At the sweep, over every file of the folder (`files`, as `list` gave them). */
  atSweep(files: readonly StoredCert[]): Promise<void> {
    return this.serial(async () => {
      for (const f of files) this.known.set(f.id, { serial: f.serial, names: f.names, path: f.path });
      const present = files.map((f) => ({ id: f.id, names: f.names, ours: this.ours(f) }));
      await this.apply(superseded({ wanted: this.deps.wanted(), present }));
    });
  }

  private serial(run: () => Promise<void>): Promise<void> {
    const next = this.chain.then(run).catch((err: unknown) => {
      this.deps.log.warn({ err: errorMessage(err) }, 'superseded certificates not checked; the next sweep checks again');
    });
    this.chain = next;
    return next;
  }

  private ours(file: StoredCert): boolean {
    const saved = this.deps.state.cert(file.id);
    if (saved.written !== undefined) return saved.written === file.serial;
    return legacyOurs(file, saved.ca !== undefined);
  }

  /**
   * The files that may share a name with `written`, without listing the folder (a mass issuance would parse every
   * file after every write): those the state says whisper-ts wrote, and those whisper would have named after its
   * names (`<name>.pem`, `multi-hosts.<zone>.pem`), to warn of a file of whisper's. The sweep sees every file.
   */
  private async judgeWrite(cert: WantedCert, written: StoredCert): Promise<void> {
    const wanted = this.deps.wanted();
    const wantedIds = new Set(wanted.map((w) => w.id));
    const mine = new Set(written.names);
    this.known.set(written.id, { serial: written.serial, names: written.names, path: written.path });
    const covering = async (names: ReadonlySet<string>): Promise<SupersedeFile[]> => {
      const found: SupersedeFile[] = [];
      for (const w of wanted) {
        if (w.id === written.id || !w.names.some((n) => names.has(n))) continue;
        const file = await this.read(w.id);
        if (file !== undefined) found.push({ id: file.id, names: file.names, ours: this.ours(file) });
      }
      return found;
    };
    if (!wantedIds.has(written.id)) {
      // Written by a job that was running when the plan moved on: the new file may be the superseded one.
      const present = [{ id: written.id, names: written.names, ours: this.ours(written) }, ...(await covering(mine))];
      await this.apply(superseded({ wanted, present }));
      return;
    }
    const shares = (id: string): boolean => {
      const k = this.known.get(id);
      return k === undefined || k.serial !== this.deps.state.cert(id).written || k.names.some((n) => mine.has(n));
    };
    const ours = this.deps.state.ids().filter((id) => this.deps.state.cert(id).written !== undefined && shares(id));
    const ids = new Set([...ours, ...written.names, `multi-hosts.${cert.zone}`]);
    const present: SupersedeFile[] = [{ id: written.id, names: written.names, ours: true }];
    const candidates: StoredCert[] = [];
    for (const id of ids) {
      if (wantedIds.has(id) || !isValidId(id)) continue;
      const file = await this.read(id);
      if (file !== undefined && file.names.some((n) => mine.has(n))) candidates.push(file);
    }
    if (candidates.length === 0) return;
    // The wanted files that may cover the candidates' names.
    present.push(...(await covering(new Set(candidates.flatMap((c) => c.names)))));
    for (const c of candidates) present.push({ id: c.id, names: c.names, ours: this.ours(c) });
    await this.apply(superseded({ wanted, present, written: written.id }));
  }

  private async read(id: string): Promise<StoredCert | undefined> {
    try {
      const file = await this.deps.store.read(id);
      if (file === undefined) this.known.delete(id);
      else this.known.set(id, { serial: file.serial, names: file.names, path: file.path });
      return file;
    } catch (err) {
      this.deps.log.debug({ cert: id, err: errorMessage(err) }, 'file not read while looking for superseded certificates');
      return undefined;
    }
  }

  private async apply(verdict: SupersedeVerdict): Promise<void> {
    const { log } = this.deps;
    for (const f of verdict.foreign) {
      const by = f.by.map((id) => `${id}.pem`);
      log.warn(
        { file: `${f.id}.pem`, by, names: f.shared },
        `${f.id}.pem and ${by.join(', ')} both hold ${f.shared.join(', ')}: HAProxy now has two certificates for those names. ` +
          `whisper-ts did not write ${f.id}.pem (whisper's, or copied in by hand) and keeps it: remove it once ${by.join(', ')} is served`,
      );
    }
    for (const f of verdict.remove) {
      const by = f.by.map((id) => `${id}.pem`);
      await this.removeOne(f.id, {
        fields: { by, names: f.shared },
        done: `removed ${f.id}.pem: ${by.join(', ')} holds its names now`,
        failed: `superseded ${f.id}.pem not removed; the next sweep tries again`,
        cannot: `${f.id}.pem is superseded by ${by.join(', ')}, but this store cannot remove files`,
      });
    }
  }

  /**
   * At the sweep (or when the next one falls due), over every file of the folder: deletes the files whisper-ts wrote
   * of certificates nobody has wanted for longer than their policy's `on_removal: delete_after` (see
   * {@link dueForRemoval}). Resolves with the moment the next file falls due, if one will.
   */
  async expireUnwanted(files: readonly StoredCert[], onRemovalOf: (file: StoredCert) => OnRemoval, now: number): Promise<number | undefined> {
    let nextAt: number | undefined;
    await this.serial(async () => {
      const wanted = new Set(this.deps.wanted().map((w) => w.id));
      for (const f of files) this.known.set(f.id, { serial: f.serial, names: f.names, path: f.path });
      const verdict = dueForRemoval(
        files.map((f) => {
          const since = this.deps.state.cert(f.id).unwantedSince;
          return { id: f.id, ours: this.ours(f), onRemoval: onRemovalOf(f), ...(since ? { unwantedSince: since.getTime() } : {}) };
        }),
        wanted,
        now,
      );
      nextAt = verdict.nextAt;
      for (const id of verdict.due) {
        await this.removeOne(id, {
          fields: { reason: 'on_removal' },
          done: `removed ${id}.pem: no service or entry has asked for it for longer than its on_removal allows`,
          failed: `${id}.pem not removed; the next sweep tries again`,
          cannot: `${id}.pem is due for removal, but this store cannot remove files`,
        });
      }
    });
    return nextAt;
  }

  /** Removes a certificate whisper-ts wrote: files, state, notify, targets; requeued if wanted again meanwhile. */
  private async removeOne(
    id: string,
    say: { readonly fields: Record<string, unknown>; readonly done: string; readonly failed: string; readonly cannot: string },
  ): Promise<void> {
    const { log } = this.deps;
    if (this.isWanted(id)) return;
    const remove = this.deps.store.remove?.bind(this.deps.store);
    if (remove === undefined) {
      log.warn({ file: `${id}.pem`, ...say.fields }, say.cannot);
      return;
    }
    try {
      await remove(id);
    } catch (err) {
      const code = isWhisperError(err) ? err.code : undefined;
      log.warn({ file: `${id}.pem`, ...say.fields, code, err: errorMessage(err) }, say.failed);
      return;
    }
    this.deps.state.deleteCert(id);
    const path = this.known.get(id)?.path;
    this.known.delete(id);
    log.info({ file: `${id}.pem`, ...say.fields }, say.done);
    this.deps.notify([`${id}.pem`]);
    // The targets take it away too, in the background (their journal keeps the removal until it succeeds).
    if (path !== undefined) this.deps.removed?.({ id, path });
    // The plan may have come back to it while it was being removed: order it again rather than leave it missing.
    if (this.isWanted(id)) this.deps.requeue(id);
  }

  private isWanted(id: string): boolean {
    return this.deps.wanted().some((w) => w.id === id);
  }
}

/**
 * A file of whisper-ts 0.2 or older, which recorded no `written` serial: a `multi-hosts*` file holding exactly one
 * name that the state knows. whisper never wrote one (one name was always `<name>.pem`), so only whisper-ts did; without
 * this, an upgrade would keep it beside the new `<name>.pem` and HAProxy would have two certificates for that name.
 */
export function legacyOurs(file: StoredCert, known: boolean): boolean {
  return known && isMultiHostId(file.id) && file.names.length === 1;
}
