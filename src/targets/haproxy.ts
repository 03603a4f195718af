import { access } from 'node:fs/promises';
import { posix } from 'node:path';
import { WhisperError, isWhisperError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Timers } from '../time.js';
import {
  crtListName, firstLines, haproxyCertName, judgeAnswer, parseCertStoreInfo, parseCertStoreList, parseCrtList,
  parseCrtLists, type AnswerVerdict, type RuntimeVerb,
} from './haproxy-commands.js';
import { planDelivery, planRemoval, type HaproxyFileState, type HaproxyPlan, type HaproxyStep } from './haproxy-plan.js';
import {
  formatSocketAddress, parseSocketAddress, payloadCommand, runtimeCommand, type RuntimeCommandOptions,
} from './haproxy-socket.js';
import type { DeliveryContext, DeliveryItem, DeliveryOutcome, RemovalItem, Target } from './types.js';

/** Options of {@link createHaproxyTarget}. */
export interface HaproxyTargetOptions {
  /** HAProxy's runtime API: a `stats socket ... level admin` unix path, or `host:port` of a TCP stats socket. */
  socket: string;
  /**
   * The folder as HAProxy's `crt <folder>` writes it (HAProxy names certificates `<folder>/<file>`, links not
   * resolved); the PEM files whisper-ts writes are there.
   */
  certFolder: string;
  /** For what happens outside a delivery; deliveries log through their context. */
  log?: Logger;
  /** Time for each runtime API command (connect, send, read the answer). @default 5000 */
  timeoutMs?: number;
  /** Timers for the command timeout (tests). @default systemTimers */
  timers?: Timers;
  /** Opens the connection (tests). @default node:net connect */
  connect?: RuntimeCommandOptions['connect'];
}

/**
 * Hands certificates to a running HAProxy through its runtime API, without a reload (HAProxy ≥ 2.2): a renewal is
 * `set ssl cert` + `commit ssl cert`; a new file of the folder `new ssl cert` + `set` + `commit` +
 * `add ssl crt-list <folder> <file>`; a removal `del ssl crt-list` + `del ssl cert`. A serial HAProxy already serves
 * is left alone; a failure aborts the transaction it opened (`abort ssl cert`) and throws; the manager retries, and
 * the notify key, bumped anyway, lets a reload watcher pick the file up. One target per socket (`perInstance`: each
 * instance talks to its own HAProxy); its deliveries run one at a time, as HAProxy has one transaction at a time.
 * @throws WhisperError `TARGET_CONFIG` when `socket` or `certFolder` cannot be used.
 */
export function createHaproxyTarget(options: HaproxyTargetOptions): Target {
  const address = parseSocketAddress(options.socket);
  if (options.certFolder.trim() === '' || /[\s;]/.test(options.certFolder)) {
    throw new WhisperError('TARGET_CONFIG', `HAProxy certificate folder ${JSON.stringify(options.certFolder)}: empty, or holds a space or ';'`);
  }
  const list = crtListName(options.certFolder);
  const where = formatSocketAddress(address);
  const name = `haproxy:${options.socket.trim()}`;
  let queue: Promise<unknown> = Promise.resolve();
  const serialize = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };
  const api = (signal?: AbortSignal) => (command: string) =>
    runtimeCommand(address, command, {
      timeoutMs: options.timeoutMs, timers: options.timers, connect: options.connect, ...(signal ? { signal } : {}),
    });

  return {
    name,
    perInstance: true,
    deliver: (item, ctx, signal) => serialize(() => deliver(item, ctx, signal)),
    remove: (item, ctx, signal) => serialize(() => remove(item, ctx, signal)),
  };

  async function deliver(item: DeliveryItem, ctx: DeliveryContext, signal: AbortSignal): Promise<DeliveryOutcome> {
    const file = fileOf(item.path);
    const send = api(signal);
    const state = await readState(send, file, false);
    const plan = planDelivery(file, item.serial, state);
    if (plan.kind === 'busy') {
      throw failure(file, 'set ssl cert', `another transaction is open on ${plan.transaction}; trying again later`, true);
    }
    if (plan.kind === 'no-crt-list') throw await missingList(send, file);
    if (plan.kind === 'noop') return { detail: plan.why };
    const pem = [item.key, item.cert, item.chain].join('\n');
    await runSteps(plan, file, send, pem);
    ctx.log.info({ file, serial: item.serial, steps: plan.steps }, 'HAProxy runtime API: certificate in place, no reload');
    return { detail: plan.steps.join(' + ') };
  }

  async function remove(item: RemovalItem, ctx: DeliveryContext, signal: AbortSignal): Promise<DeliveryOutcome> {
    const file = fileOf(item.path);
    // The file is back (the name came back before this removal ran): HAProxy would load it again; leave it.
    if (await exists(item.path)) return { detail: 'the file is in the folder again: left in place' };
    const send = api(signal);
    const plan = planRemoval(file, await readState(send, file, true));
    if (plan.kind !== 'steps') return { detail: plan.kind === 'noop' ? plan.why : 'nothing to remove' };
    await runSteps(plan, file, send, '');
    ctx.log.info({ file, steps: plan.steps }, 'HAProxy runtime API: certificate removed, no reload');
    return { detail: plan.steps.join(' + ') };
  }

  function fileOf(path: string): string {
    const base = posix.basename(path.replace(/\\/g, '/'));
    if (base === '' || /[\s;]/.test(base)) {
      throw new WhisperError('TARGET_HAPROXY', `HAProxy ${where}: file name ${JSON.stringify(base)} cannot be sent to the runtime API`);
    }
    return haproxyCertName(options.certFolder, base);
  }

  async function readState(send: (c: string) => Promise<string>, file: string, forRemoval: boolean): Promise<HaproxyFileState> {
    try {
      return await readStateOnce(send, file, forRemoval);
    } catch (err) {
      if (!isWhisperError(err, 'TARGET_HAPROXY') || err.message.includes(where)) throw err;
      throw new WhisperError('TARGET_HAPROXY', `HAProxy ${where}: ${err.message}`, { retryable: err.retryable, cause: err });
    }
  }

  async function readStateOnce(send: (c: string) => Promise<string>, file: string, forRemoval: boolean): Promise<HaproxyFileState> {
    const stores = parseCertStoreList(await send('show ssl cert'));
    const store = stores.files.includes(file) ? parseCertStoreInfo(file, await send(`show ssl cert ${file}`)) : undefined;
    let inCrtList: HaproxyFileState['inCrtList'];
    if (forRemoval || store?.status !== 'Used') {
      const entries = parseCrtList(list, await send(`show ssl crt-list ${list}`));
      inCrtList = entries === undefined ? 'no-list' : entries.includes(file);
    }
    return {
      ...(stores.transaction !== undefined ? { transaction: stores.transaction } : {}),
      ...(store ? { store } : {}),
      ...(inCrtList !== undefined ? { inCrtList } : {}),
    };
  }

  /** Runs the steps; on a failure, aborts the transaction opened and deletes the empty store created, then throws. */
  async function runSteps(plan: Extract<HaproxyPlan, { kind: 'steps' }>, file: string, send: (c: string) => Promise<string>, pem: string): Promise<void> {
    let open = false;
    let createdEmpty = false;
    try {
      for (const step of plan.steps) {
        // A `set` whose answer is lost or refused may still have opened the transaction: abort it in any case.
        if (step === 'set ssl cert') open = true;
        const verdict = await run(step, file, send, pem);
        if (step === 'new ssl cert') createdEmpty = verdict.ok && verdict.already !== true;
        if (step === 'set ssl cert') {
          const other = verdict.ok ? verdict.transactionFile : undefined;
          if (other !== undefined && other !== file) {
            // HAProxy 2.6 puts the payload into whatever transaction is open: take ours back out of theirs.
            await cleanup(`abort ssl cert ${other}`, other);
            open = false;
            throw failure(file, step, `another transaction was open on ${other}; trying again later`, true);
          }
        }
        if (step === 'commit ssl cert') {
          open = false;
          createdEmpty = false;
        }
      }
    } catch (err) {
      if (open) await cleanup(`abort ssl cert ${file}`, file);
      if (createdEmpty) await cleanup(`del ssl cert ${file}`, file);
      throw err;
    }
  }

  async function run(step: HaproxyStep, file: string, send: (c: string) => Promise<string>, pem: string): Promise<AnswerVerdict> {
    const command =
      step === 'set ssl cert' ? payloadCommand(`set ssl cert ${file}`, pem)
        : step === 'add ssl crt-list' || step === 'del ssl crt-list' ? `${step} ${list} ${file}`
          : `${step} ${file}`;
    const verdict = judgeAnswer(step satisfies RuntimeVerb, file, await send(command));
    if (!verdict.ok) throw failure(file, step, verdict.reason, verdict.retryable);
    return verdict;
  }

  /** Best effort, without the caller's signal (it may be what aborted us), so that no transaction stays open. */
  async function cleanup(command: string, file: string): Promise<void> {
    try {
      await api()(command);
    } catch (err) {
      options.log?.warn({ target: name, file, err: err instanceof Error ? err.message : String(err) }, `HAProxy runtime API: ${command.split(' ', 3).join(' ')} failed`);
    }
  }

  async function missingList(send: (c: string) => Promise<string>, file: string): Promise<WhisperError> {
    let known: string;
    try {
      known = parseCrtLists(await send('show ssl crt-list')).join(', ');
    } catch (err) {
      known = `unknown: ${firstLines(err instanceof Error ? err.message : String(err))}`;
    }
    return failure(file, 'add ssl crt-list', `HAProxy has no \`crt ${list}\` (its crt-lists: ${known || 'none'}); the folder must be written as in HAProxy's configuration`, false);
  }

  async function exists(path: string): Promise<boolean> {
    return access(path).then(() => true, () => false);
  }

  function failure(file: string, step: string, reason: string, retryable: boolean): WhisperError {
    return new WhisperError('TARGET_HAPROXY', `HAProxy ${where}: ${step} ${file}: ${reason}`, { retryable });
  }
}
