import { X509Certificate } from 'node:crypto';
import { WhisperError, errorMessage, isWhisperError } from '../errors.js';
import type { Logger } from '../log.js';
import { REVOCATION_REASONS, type RevocationReason } from '../ops/types.js';
import type { CertStore } from '../store/types.js';
import { loadOrRegisterAccount } from './account.js';
import { hasProblemType } from './problems.js';
import type { AcmeClientFactory } from './types.js';

/** Options of {@link revokeCertificate}. */
export interface RevokeOptions {
  readonly directoryUrl: string;
  /** The account store (see `accountStore`): the revocation is signed with the account key. */
  readonly store: CertStore;
  readonly clients: AcmeClientFactory;
  /** The certificate to revoke, PEM (its leaf first: a chain after it is ignored). */
  readonly certPem: string;
  readonly reason: RevocationReason;
  /** Aborts the requests to the CA in flight. @default none */
  readonly signal?: AbortSignal;
  readonly log: Logger;
}

/** `serial 0A1B… (www.example.com, example.com)`, or `CONFIG_INVALID` when `pem` holds no readable certificate. */
function describe(pem: string): { serial: string; label: string } {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(pem);
  } catch (err) {
    throw new WhisperError('CONFIG_INVALID', `the certificate to revoke is not a readable PEM certificate: ${errorMessage(err)}`, { cause: err });
  }
  const names = (x509.subjectAltName ?? '')
    .split(', ')
    .filter((n) => n.startsWith('DNS:'))
    .map((n) => n.slice(4));
  return { serial: x509.serialNumber, label: `certificate serial ${x509.serialNumber}${names.length > 0 ? ` (${names.join(', ')})` : ''}` };
}

/**
 * Revokes a certificate at the CA (RFC 8555 section 7.6) with the account key (the account that ordered it, or one
 * authorized for all its names), giving `reason` (RFC 5280 code). A certificate the CA reports already revoked
 * (`alreadyRevoked`) counts as done, so this is safe to repeat. Other refusals keep the transport's code (`ACME_ORDER`,
 * `ACME_RATE_LIMITED`, …) with the certificate's serial and names in the message. Without an account key, or a key the
 * CA has no account for: `ACME_ACCOUNT` (nothing is registered here).
 */
export async function revokeCertificate(options: RevokeOptions): Promise<void> {
  const { directoryUrl, store, log, reason } = options;
  if (!Object.hasOwn(REVOCATION_REASONS, reason)) {
    throw new WhisperError('CONFIG_INVALID', `unknown revocation reason ${JSON.stringify(reason)}: one of ${Object.keys(REVOCATION_REASONS).join(', ')}`);
  }
  const { serial, label } = describe(options.certPem);
  const signal = options.signal ? { signal: options.signal } : {};
  const account = await loadOrRegisterAccount({ directoryUrl, store, clients: options.clients, log, ...signal });
  const client = options.clients({ directoryUrl, accountKey: account.key, accountUrl: account.url, what: `revocation of ${label}`, ...signal });
  if (!client.revokeCertificate) throw new WhisperError('INTERNAL', 'this ACME client cannot revoke certificates');
  try {
    await client.revokeCertificate(options.certPem, { reason: REVOCATION_REASONS[reason] });
  } catch (err) {
    if (hasProblemType(err, 'alreadyRevoked')) {
      log.info({ serial }, `${label} was already revoked`);
      return;
    }
    throw isWhisperError(err) ? err : new WhisperError('ACME_BAD_RESPONSE', `revocation of ${label} failed: ${errorMessage(err)}`, { cause: err });
  }
  log.info({ serial, reason }, `${label} revoked`);
}
