import { WhisperError } from '../errors.js';
import type { RecordEvent } from '../history/types.js';
import { createAllowList } from '../plan/allow.js';
import { planDomains } from '../plan/domains.js';
import type { StateKeeper } from '../state/keeper.js';
import type { CertBundle, CertStore, StoredCert } from '../store/types.js';
import { checkImportPem } from './import-check.js';
import type { ActionSource, ImportResult } from './types.js';

/** What an import needs: the store and state of the folder, and the daemon's rules for names. */
export interface ImportDeps {
  readonly store: CertStore;
  readonly state: StateKeeper;
  readonly record: RecordEvent;
  readonly now: () => number;
  /** `--allow-domain`: an imported certificate must be one the daemon may renew. */
  readonly allowDomains: readonly string[];
  readonly allowWildcard: boolean;
  /** `--domain` zones. @default every zone */
  readonly domains?: readonly string[];
  /** A certificate was written: the daemon re-plans, notifies and delivers it. @default nothing */
  readonly written?: (stored: StoredCert, bundle: CertBundle) => void;
}

/** The certificates adopted so far (names per certificate), for the planner (see `Reconciler.importedChanged`). */
export function importedEntries(state: StateKeeper): string[][] {
  return state
    .ids()
    .map((id) => state.cert(id).imported?.names)
    .filter((n): n is readonly string[] => n !== undefined)
    .map((n) => [...n]);
}

/**
 * Adopts certificates issued elsewhere: every PEM is validated first (key, chain, expiry, names; see
 * `import-check.ts`), and its id is the one the daemon's planner gives its names (as a `domains:` entry), so the
 * daemon wants it and renews it on schedule. Nothing is written unless every PEM is valid. A file already in the
 * folder under the same id is replaced only by a certificate that expires later (it would be renewed first anyway).
 */
export async function importCertificates(
  deps: ImportDeps,
  pems: readonly { readonly name: string; readonly pem: string }[],
  opts: { readonly by: ActionSource },
): Promise<ImportResult[]> {
  if (pems.length === 0) throw new WhisperError('CONFIG_INVALID', 'nothing to import: name one or more PEM files');
  const now = deps.now();
  const allow = createAllowList(deps.allowDomains);
  const checked = pems.map((p) => {
    const c = checkImportPem(p.name, p.pem, now);
    const planned = planDomains('import', [c.names], allow, { allowWildcard: deps.allowWildcard, domains: new Set(deps.domains ?? []) });
    const id = planned.certs[0]?.id;
    if (id === undefined) {
      const why = planned.problems[0]?.message ?? 'its names are outside every --domain zone';
      throw new WhisperError('CONFIG_INVALID', `${p.name}: the daemon would not renew ${c.names.join(', ')}: ${why}`);
    }
    return { ...c, id, name: p.name };
  });
  const ids = new Set<string>();
  for (const c of checked) {
    if (ids.has(c.id)) throw new WhisperError('CONFIG_INVALID', `${c.name}: a second certificate for ${c.id} in the same import`);
    ids.add(c.id);
    const existing = await deps.store.read(c.id).catch(() => undefined);
    if (existing && existing.notAfter.getTime() >= c.notAfter.getTime()) {
      throw new WhisperError('CONFIG_INVALID', `${c.name}: the folder already holds ${c.id}.pem expiring ${existing.notAfter.toISOString()}, not before this one (${c.notAfter.toISOString()}); nothing imported`);
    }
  }
  const results: ImportResult[] = [];
  for (const c of checked) {
    const stored = await deps.store.write(c.id, c.bundle);
    deps.state.setCert(c.id, (old) => ({ ...old, written: stored.serial, imported: { names: stored.names, at: new Date(now) }, lastError: undefined }));
    deps.record({ kind: 'imported', cert: c.id, names: stored.names, serial: stored.serial, by: opts.by, reason: c.name });
    deps.written?.(stored, c.bundle);
    results.push({ id: c.id, file: `${c.id}.pem`, names: stored.names, serial: stored.serial, notAfter: stored.notAfter.toISOString() });
  }
  return results;
}
