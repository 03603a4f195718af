import type { Config } from './config.js';
import type { Logger } from './log.js';
import { isWhisperError, errorMessage } from './errors.js';
import type { ConsulApi } from './consul/api.js';
import type { CertStore, StoredCert } from './store/types.js';
import type { Plan } from './plan/planner.js';
import { loadPolicyAtStart } from './policy/run.js';
import { planOnce } from './plan-once.js';
import { orderReason } from './reconcile.js';
import { supersededByPlan, type DryRunSuperseded } from './dryrun-supersede.js';

/** One line of a dry run. */
export interface DryRunItem {
  readonly id: string;
  readonly names: readonly string[];
  readonly services: readonly string[];
  /** `order` (no valid file), `renew`, or `keep`. */
  readonly action: 'order' | 'keep';
  /** Why: missing, names changed, expired, renewal due; or the expiry for `keep`. */
  readonly reason: string;
}

/** Result of {@link dryRun}. */
export interface DryRunResult {
  readonly items: readonly DryRunItem[];
  readonly problems: Plan['problems'];
  /** Files of the folder the plan supersedes (a file name that changes): removed, or kept as duplicates. @default [] */
  readonly superseded?: readonly DryRunSuperseded[];
}

/**
 * Reads the catalog and the static entries (`--listen-path`) once, plans, and compares with the folder. Contacts no
 * CA, changes no DNS, writes nothing (a folder that does not exist yet reads as empty).
 */
export async function dryRun(config: Config, consul: ConsulApi, store: CertStore, log: Logger, now = Date.now()): Promise<DryRunResult> {
  // The daemon's plan now, `--config`'s `domains:` and the rules' extra names included.
  const policy = await loadPolicyAtStart(config);
  const plan = await planOnce(config, policy?.file, consul, policy ? (c) => policy.policyOf(c) : undefined);
  const items: DryRunItem[] = [];
  for (const cert of plan.certs) {
    let stored: StoredCert | undefined;
    try {
      stored = await store.read(cert.id);
    } catch (err) {
      if (!isWhisperError(err, 'STORE_CORRUPT')) throw err;
      log.warn({ cert: cert.id }, errorMessage(err));
    }
    const reason = orderReason(stored, cert, now);
    items.push({
      id: cert.id,
      names: cert.names,
      services: cert.services,
      action: reason ? 'order' : 'keep',
      reason: reason ?? `valid until ${stored!.notAfter.toISOString()}`,
    });
  }
  return { items, problems: plan.problems, superseded: await supersededByPlan(plan.certs, store, config.certDir) };
}

/** The dry run as text for a terminal. */
export function formatDryRun(result: DryRunResult): string {
  const lines = [`whisper-ts dry run: ${result.items.length} certificate(s) planned, nothing ordered, nothing written`];
  for (const item of result.items) {
    lines.push(`  ${item.action === 'order' ? 'would order' : 'keep       '}  ${item.id}.pem  [${item.names.join(', ')}]  (${item.reason}; services: ${item.services.join(', ')})`);
  }
  for (const s of result.superseded ?? []) {
    const how = s.action === 'remove' ? 'would remove' : 'duplicate   ';
    const why = s.action === 'remove' ? `superseded by ${s.by.join(', ')}, once written` : `not written by whisper-ts: kept; remove it once ${s.by.join(', ')} is served`;
    lines.push(`  ${how} ${s.file}  [${s.names.join(', ')}]  (${why})`);
  }
  for (const p of result.problems) lines.push(`  rejected     service ${JSON.stringify(p.service)}${p.tag ? ` tag ${JSON.stringify(p.tag)}` : ''}: ${p.message}`);
  return lines.join('\n') + '\n';
}
