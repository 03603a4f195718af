import type { Config } from '../config.js';
import type { Plan, PlanProblem } from '../plan/planner.js';
import type { WantedCert } from '../plan/types.js';
import { formatDuration } from './duration.js';
import type { PolicyFile } from './file-types.js';
import { basePolicy, resolvePolicy } from './resolve.js';
import type { CertPolicy } from './types.js';

/** One certificate of `check-config`: what the plan wants and the policy it would get. */
export interface CheckConfigRow {
  readonly id: string;
  /** The certificate's file in the folder. */
  readonly file: string;
  readonly zone: string;
  readonly names: readonly string[];
  /** Who asks for it: Consul services, `kv:<key>`, `file:<names>`, `env:<names>`. */
  readonly services: readonly string[];
  /** The DNS back end, as shown: `<name> (<provider>)` of the file, or `<provider> (--dns-provider)`. */
  readonly backend: string;
  readonly policy: CertPolicy;
}

/** What `check-config` prints. */
export interface CheckConfigReport {
  readonly file: string;
  /** How many rules, back ends, targets and static entries the file has. */
  readonly counts: { readonly rules: number; readonly dns: number; readonly targets: number; readonly domains: number };
  readonly rows: readonly CheckConfigRow[];
  readonly problems: readonly PlanProblem[];
  /** Whether the catalog was read (`--offline`: only the static certificates are shown). */
  readonly catalog: boolean;
}

/** The back end of a policy, as `check-config` shows it. */
export function backendLabel(policy: CertPolicy, file: PolicyFile | undefined, config: Pick<Config, 'dnsProvider'>): string {
  if (policy.challenge === 'http-01') return 'none (http-01)';
  if (policy.dns === undefined) return `${config.dnsProvider} (--dns-provider)`;
  return `${policy.dns} (${file?.dns[policy.dns]?.provider ?? 'unknown'})`;
}

/** The report of a plan: each wanted certificate with its resolved policy. Pure. */
export function checkConfigReport(config: Config, file: PolicyFile, plan: Plan, catalog: boolean): CheckConfigReport {
  const base = basePolicy(config, file);
  const rows = plan.certs.map((cert: WantedCert): CheckConfigRow => {
    const policy = resolvePolicy(cert, file, base);
    return { id: cert.id, file: `${cert.id}.pem`, zone: cert.zone, names: cert.names, services: cert.services, backend: backendLabel(policy, file, config), policy };
  });
  return {
    file: file.path,
    counts: { rules: file.rules.length, dns: Object.keys(file.dns).length, targets: Object.keys(file.targets).length, domains: file.domains.length },
    rows,
    problems: plan.problems,
    catalog,
  };
}

function renewText(policy: CertPolicy): string {
  const r = policy.renewBefore;
  if (r === undefined) return 'ARI, else 1/3 of the lifetime';
  return 'days' in r ? `ARI, else ${r.days}d before expiry` : `ARI, else ${r.percent}% of the lifetime left`;
}

function removalText(policy: CertPolicy): string {
  return policy.onRemoval.kind === 'keep' ? 'keep' : `delete after ${formatDuration(policy.onRemoval.afterMs)}`;
}

/** The report as text for a terminal: a block per certificate. */
export function formatCheckConfig(report: CheckConfigReport): string {
  const c = report.counts;
  const lines = [
    `${report.file}: valid (${c.rules} rule(s), ${c.dns} DNS back end(s), ${c.targets} target(s), ${c.domains} static domain entr${c.domains === 1 ? 'y' : 'ies'})`,
    report.catalog
      ? `${report.rows.length} certificate(s) wanted by the catalog, the KV static entries and the static domains now:`
      : `${report.rows.length} static certificate(s) (--offline: the Consul catalog was not read):`,
  ];
  for (const row of report.rows) {
    const p = row.policy;
    lines.push(
      '',
      `  ${row.file}`,
      `    zone        ${row.zone}`,
      `    names       ${row.names.join(', ')}${p.extraNames.length > 0 ? ` + ${p.extraNames.join(', ')} (rule)` : ''}`,
      `    from        ${row.services.join(', ')}`,
      `    dns         ${row.backend}`,
      `    challenge   ${p.challenge}`,
      `    key         ${p.keyType}${p.reuseKey ? ', reused across renewals' : ', new at each renewal'}`,
      `    renew       ${renewText(p)}${p.profile !== undefined ? `; profile ${p.profile}` : ''}`,
      `    targets     ${p.targets === undefined ? 'every configured target' : p.targets.length === 0 ? 'none (the folder only)' : p.targets.join(', ')}`,
      `    on removal  ${removalText(p)}`,
      `    rule        ${p.rule ?? '(defaults)'}`,
    );
  }
  if (report.problems.length > 0) lines.push('', 'skipped:');
  for (const p of report.problems) lines.push(`  ${p.message}`);
  return lines.join('\n') + '\n';
}

/** The report as one JSON document. */
export function formatCheckConfigJson(report: CheckConfigReport): string {
  return JSON.stringify(report, null, 2) + '\n';
}
