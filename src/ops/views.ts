import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import type { BucketSnapshot } from '../limits/budget.js';
import type { WantedCert } from '../plan/types.js';
import { statusRows, type StatusOptions, type StatusRow } from '../status/status.js';
import type { WhisperState } from '../state/types.js';
import type { StoredCert } from '../store/types.js';
import type { CertificateView, LimitsView } from './types.js';

/** The key type of a certificate's public key, as `--key-type` names them (`ecdsa-p256`, `rsa2048`, …). */
export function keyTypeOf(pem: string): string | undefined {
  try {
    const key = new X509Certificate(pem).publicKey;
    const d = key.asymmetricKeyDetails;
    if (key.asymmetricKeyType === 'ec') return d?.namedCurve === 'prime256v1' ? 'ecdsa-p256' : d?.namedCurve === 'secp384r1' ? 'ecdsa-p384' : `ec-${d?.namedCurve ?? 'unknown'}`;
    if (key.asymmetricKeyType === 'rsa') return `rsa${d?.modulusLength ?? ''}`;
    return key.asymmetricKeyType;
  } catch {
    return undefined;
  }
}

/** Why the certificate renews when it does, in words for the dashboard. */
function renewalReason(row: StatusRow, wanted: WantedCert | undefined, requested: boolean): string {
  if (!wanted) return 'not wanted: never renewed';
  if (row.notAfter === undefined) return 'missing: ordered as soon as it can be';
  if (requested) return 'requested by an operator';
  if (row.deferredUntil) return 'deferred by the rate-limit budget';
  if (row.otherCa) return 'issued by another CA: replaced now';
  return row.ariChosen ? 'ARI window of the CA' : 'lifetime rule (--renew-before)';
}

const iso = (d: Date | undefined): string | undefined => d?.toISOString();

/**
 * Every certificate the API shows: those in the folder (wanted or not) and those wanted but not issued yet, with what
 * the state knows of each. Sorted by id.
 */
export function certificateViews(
  files: readonly StoredCert[],
  wanted: readonly WantedCert[],
  state: WhisperState,
  now: number,
  options: StatusOptions = {},
): CertificateView[] {
  const rows = statusRows(files, state, now, options);
  const byFile = new Map(files.map((f) => [path.basename(f.path), f]));
  const wantedById = new Map(wanted.map((w) => [w.id, w]));
  const views = new Map<string, CertificateView>();
  for (const row of rows) {
    const file = byFile.get(row.file);
    const id = file?.id ?? row.file;
    views.set(id, view(id, row, file, wantedById.get(id), state));
  }
  for (const w of wanted) {
    if (views.has(w.id)) continue;
    views.set(w.id, view(w.id, { file: w.id, names: w.names, issuer: '', ariChosen: false }, undefined, w, state));
  }
  return [...views.values()].sort((a, b) => a.id.localeCompare(b.id));
}

function view(id: string, row: StatusRow, file: StoredCert | undefined, wanted: WantedCert | undefined, state: WhisperState): CertificateView {
  const info = state.certs[id] ?? {};
  const requested = info.renewRequested !== undefined;
  const keyType = file ? keyTypeOf(file.cert) : undefined;
  return {
    id,
    file: row.file,
    names: row.names.length > 0 ? row.names : (wanted?.names ?? []),
    wanted: wanted !== undefined,
    ...(wanted ? { services: wanted.services } : {}),
    issuer: row.issuer,
    ...(file ? { serial: file.serial, notBefore: file.notBefore.toISOString(), notAfter: file.notAfter.toISOString() } : {}),
    ...(keyType ? { keyType } : {}),
    ...(row.nextRenewal && wanted ? { nextRenewal: row.nextRenewal.toISOString() } : {}),
    renewalReason: renewalReason(row, wanted, requested),
    ...(info.ariWindow ? { ariWindow: { start: info.ariWindow.start.toISOString(), end: info.ariWindow.end.toISOString() } } : {}),
    ...(row.deferredUntil ? { deferredUntil: iso(row.deferredUntil)! } : {}),
    ...(requested ? { renewRequested: true } : {}),
    ...(row.lastError ? { lastError: { at: row.lastError.at.toISOString(), code: row.lastError.code, message: row.lastError.message } } : {}),
    ...(row.targets ? { targets: row.targets } : {}),
  };
}

/** The budget's buckets, and when the first one that is spent has room again. */
export function limitsView(buckets: readonly BucketSnapshot[]): LimitsView {
  const spent = buckets.filter((b) => b.remaining <= 0 && b.nextTokenAt !== undefined).map((b) => b.nextTokenAt!.getTime());
  return { buckets, ...(spent.length > 0 ? { nextFreeAt: new Date(Math.min(...spent)).toISOString() } : {}) };
}
