import path from 'node:path';
import { nextRenewal, type RenewBefore } from '../lifecycle/schedule.js';
import type { CertError, WhisperState } from '../state/types.js';
import { targetCell, targetStatus, type TargetStatus } from './targets.js';
import type { StoredCert } from '../store/types.js';
import { formatTable, formatTime } from './table.js';

const DAY = 86_400_000;

/** One line of `status`. */
export interface StatusRow {
  /** The certificate file's base name; the certificate id when no file exists yet. */
  readonly file: string;
  readonly names: readonly string[];
  /** Empty when no file exists yet. */
  readonly issuer: string;
  /** Absent when no file exists yet (a first issuance that keeps failing). */
  readonly notAfter?: Date;
  /** Whole days until `notAfter`, negative once expired. */
  readonly daysLeft?: number;
  /** From the state file, else computed with the lifetime rule. */
  readonly nextRenewal?: Date;
  /** Whether the CA's ARI window chose `nextRenewal`. */
  readonly ariChosen: boolean;
  /** Held back by the rate-limit budget until then. */
  readonly deferredUntil?: Date;
  readonly lastError?: CertError;
  /** The CA that issued it, when that is not the configured one: it is replaced at once. */
  readonly otherCa?: string;
  /** Per delivery target that recorded something for it (see `targets/manager.ts`): what it holds, and what is pending. */
  readonly targets?: Readonly<Record<string, TargetStatus>>;
}

/** Options of {@link statusRows}. */
export interface StatusOptions {
  /** The `--renew-before` rule, for certificates the state file has no renewal time for. @default one third of the lifetime left */
  renewBefore?: RenewBefore;
  /** The CA the daemon runs with: a certificate the state file records as issued by another one is due now. */
  directoryUrl?: string;
}

/**
 * The rows of `status`: every certificate in the folder with what the state file knows of it, plus the
 * certificates the state file records an error for but that have no file yet. Sorted by file.
 */
export function statusRows(certs: readonly StoredCert[], state: WhisperState, now: number, options: StatusOptions = {}): StatusRow[] {
  const rows: StatusRow[] = certs.map((cert) => {
    const info = state.certs[cert.id] ?? {};
    const fallback = nextRenewal(cert, { ...(options.renewBefore ? { renewBefore: options.renewBefore } : {}), random: () => 0, now: () => now });
    const otherCa = info.ca !== undefined && options.directoryUrl !== undefined && info.ca !== options.directoryUrl ? info.ca : undefined;
    return {
      file: path.basename(cert.path),
      names: cert.names,
      issuer: cert.issuer,
      notAfter: cert.notAfter,
      daysLeft: Math.floor((cert.notAfter.getTime() - now) / DAY),
      // Issued by another CA than the daemon's: the daemon replaces it at once.
      nextRenewal: otherCa ? new Date(now) : (info.nextRenewal ?? fallback.at),
      ariChosen: !otherCa && info.nextRenewal ? info.ariChosen === true : false,
      ...(otherCa ? { otherCa } : {}),
      ...(info.deferredUntil && info.deferredUntil.getTime() > now ? { deferredUntil: info.deferredUntil } : {}),
      ...(info.lastError ? { lastError: info.lastError } : {}),
      ...targetStatus(state, cert.id, cert.serial),
    };
  });
  const present = new Set(certs.map((c) => c.id));
  for (const [id, info] of Object.entries(state.certs)) {
    if (present.has(id) || !info.lastError) continue;
    present.add(id);
    rows.push({
      file: id,
      names: [],
      issuer: '',
      ariChosen: false,
      ...(info.deferredUntil && info.deferredUntil.getTime() > now ? { deferredUntil: info.deferredUntil } : {}),
      lastError: info.lastError,
      ...targetStatus(state, id, undefined),
    });
  }
  // Removed from the folder, still to be taken away from a target.
  const removing = new Set(Object.values(state.targets ?? {}).flatMap((certs) => Object.keys(certs).filter((id) => certs[id]?.removing !== undefined)));
  for (const id of removing) {
    if (!present.has(id)) rows.push({ file: id, names: [], issuer: '', ariChosen: false, ...targetStatus(state, id, undefined) });
  }
  return rows.sort((a, b) => a.file.localeCompare(b.file));
}

const MAX_MESSAGE = 80;

function errorCell(e: CertError | undefined): string {
  if (!e) return '-';
  const message = e.message.length > MAX_MESSAGE ? `${e.message.slice(0, MAX_MESSAGE - 1)}…` : e.message;
  return `${formatTime(e.at)} ${e.code}: ${message}`;
}

function renewalCell(row: StatusRow): string {
  if (row.deferredUntil) return `${formatTime(row.deferredUntil)} (deferred)`;
  if (!row.nextRenewal) return '-';
  if (row.otherCa) return `now (issued by another CA: ${hostOf(row.otherCa)})`;
  return `${formatTime(row.nextRenewal)}${row.ariChosen ? ' (ARI)' : ''}`;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** `status` as an aligned text table. */
export function formatStatusTable(rows: readonly StatusRow[]): string {
  if (rows.length === 0) return 'no certificates\n';
  // The TARGETS column only when a target recorded something: the table of a folder without targets is as before.
  const targets = rows.some((r) => r.targets !== undefined);
  return formatTable(
    ['FILE', 'NAMES', 'ISSUER', 'NOT AFTER', 'DAYS LEFT', 'NEXT RENEWAL', ...(targets ? ['TARGETS'] : []), 'LAST ERROR'],
    rows.map((r) => [
      r.file,
      r.names.length ? r.names.join(',') : '(not issued)',
      r.issuer || '-',
      formatTime(r.notAfter),
      r.daysLeft === undefined ? '-' : String(r.daysLeft),
      renewalCell(r),
      ...(targets ? [targetCell(r.targets)] : []),
      errorCell(r.lastError),
    ]),
  );
}

/** `status --json`: the rows with ISO dates, one JSON document. */
export function formatStatusJson(rows: readonly StatusRow[]): string {
  return `${JSON.stringify(rows, null, 2)}\n`;
}
