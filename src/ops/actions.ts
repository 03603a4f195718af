import { ariCertId } from '../acme/ari.js';
import { WhisperError } from '../errors.js';
import type { RecordEvent } from '../history/types.js';
import type { RateBudget } from '../limits/budget.js';
import { classifyOrder } from '../limits/classify.js';
import type { WantedCert } from '../plan/types.js';
import type { StateKeeper } from '../state/keeper.js';
import type { CertStore, StoredCert } from '../store/types.js';
import { REVOCATION_REASONS, type ActionSource, type RenewResult, type RevocationReason, type RevokeResult } from './types.js';

/** What the operator's actions need: the daemon's parts, or those `whisper-ts renew` builds for itself. */
export interface ActionDeps {
  readonly state: StateKeeper;
  readonly budget: RateBudget;
  readonly store: CertStore;
  /** The wanted certificate with this id (a source asks for it), if any. */
  readonly find: (id: string) => WantedCert | undefined;
  /**
   * Orders (or checks) the certificate: the daemon queues it and returns at once; `whisper-ts renew` without a daemon
   * runs it and returns when it is written. `urgent`: a job waiting for its retry runs now.
   */
  readonly run: (cert: WantedCert, reason: string, urgent: boolean) => Promise<void>;
  /** Revokes a certificate at the CA with the account key (see `acme/revoke.ts`). */
  readonly revoke: (certPem: string, reason: RevocationReason) => Promise<void>;
  readonly record: RecordEvent;
  readonly now: () => number;
}

/** The wanted certificate `id`, or `NOT_FOUND` saying why nothing would order it. */
async function wanted(deps: ActionDeps, id: string): Promise<WantedCert> {
  const cert = deps.find(id);
  if (cert) return cert;
  const file = await deps.store.read(id).catch(() => undefined);
  const why = file
    ? `certificate ${id} is in the folder but no source asks for it any more (Consul, KV, the config file, an import): nothing would renew it`
    : `no certificate ${id}: neither wanted by a source nor in the folder`;
  throw new WhisperError('NOT_FOUND', why);
}

/**
 * A renewal now, asked by an operator. With `force` the next decision orders it whatever the schedule says (it is
 * recorded in the state, so a restart or a budget deferral does not lose it); without, the certificate is only
 * checked now (ordered when due). Either way the rate-limit budget still decides when the order can run: the answer
 * says when, and which bucket holds it back.
 */
export async function requestRenewal(deps: ActionDeps, id: string, opts: { readonly force: boolean; readonly by: ActionSource }): Promise<RenewResult> {
  const cert = await wanted(deps, id);
  const now = deps.now();
  if (opts.force) deps.state.setCert(id, (old) => ({ ...old, renewRequested: { at: new Date(now), by: opts.by } }));
  const verdict = deps.budget.check(classifyOrder(cert.names, false, true), now);
  const runsAt = verdict.ok ? new Date(now) : verdict.until;
  deps.record({ kind: 'renew-requested', cert: id, names: cert.names, by: opts.by, reason: opts.force ? 'forced' : 'check', until: runsAt, ...(verdict.ok ? {} : { bucket: verdict.bucket }) });
  const what = opts.force ? 'renewal' : 'renewal check';
  const result: RenewResult = verdict.ok
    ? { id, runsAt: runsAt.toISOString(), message: `${what} of ${id} queued: runs now` }
    : {
        id,
        runsAt: runsAt.toISOString(),
        deferredBy: { bucket: verdict.bucket, key: verdict.key },
        message: `${what} of ${id} deferred until ${runsAt.toISOString()}: the ${verdict.bucket} budget (${verdict.key}) is spent`,
      };
  await deps.run(cert, opts.force ? 'requested' : 'checked', verdict.ok);
  return result;
}

/** The certificate file of `id` as the folder holds it, or `NOT_FOUND`. */
async function storedOf(deps: ActionDeps, id: string): Promise<StoredCert> {
  const stored = await deps.store.read(id);
  if (!stored) throw new WhisperError('NOT_FOUND', `no certificate file for ${id} in the folder: nothing to revoke`);
  return stored;
}

/**
 * Revokes the certificate in the folder for `id` (RFC 8555 §7.6) and orders its replacement at once: a revoked
 * certificate must not stay in HAProxy. The replacement goes without `replaces` (a CA may refuse to replace a revoked
 * certificate), and is forced like {@link requestRenewal}. Repeating it is safe: a certificate already revoked counts
 * as revoked.
 */
export async function revokeStored(deps: ActionDeps, id: string, opts: { readonly reason: RevocationReason; readonly by: ActionSource }): Promise<RevokeResult> {
  if (!(opts.reason in REVOCATION_REASONS)) throw new WhisperError('CONFIG_INVALID', `unknown revocation reason ${JSON.stringify(opts.reason)}: one of ${Object.keys(REVOCATION_REASONS).join(', ')}`);
  const stored = await storedOf(deps, id);
  await deps.revoke(stored.cert, opts.reason);
  deps.record({ kind: 'revoked', cert: id, names: stored.names, serial: stored.serial, reason: opts.reason, by: opts.by });
  // Never `replaces` the revoked certificate; the next new certificate clears this again.
  const certId = certIdOf(stored.cert);
  if (certId) deps.state.setCert(id, (old) => ({ ...old, replacesRefused: certId }));
  const replacement = deps.find(id)
    ? await requestRenewal(deps, id, { force: true, by: opts.by })
    : { id, runsAt: new Date(deps.now()).toISOString(), message: `${id} is revoked; no source asks for it, so it is not replaced` };
  return { id, serial: stored.serial, reason: opts.reason, replacement };
}

function certIdOf(pem: string): string | undefined {
  try {
    return ariCertId(pem);
  } catch {
    return undefined;
  }
}
