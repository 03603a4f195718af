import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { Order } from 'acme-client';
import { WhisperError } from '../errors.js';
import { dnsNames, pemCertificates } from '../store/pem.js';
import type { CertBundle } from '../store/types.js';
import type { OrderContext } from './order.js';

/** The bundle of an issued certificate, checked: it parses, names exactly `names` (sorted), and is for `key`. */
export function checkIssued(what: string, pem: string, key: string, names: readonly string[]): CertBundle {
  // A text split, not acme-client's splitPemChain: that one decodes and re-encodes every certificate through asn1js.
  const [leaf, ...chain] = pemCertificates(pem);
  if (leaf === undefined) throw new WhisperError('ACME_BAD_RESPONSE', `${what}: the CA sent no certificate`);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(leaf);
  } catch (err) {
    throw new WhisperError('ACME_BAD_RESPONSE', `${what}: the CA sent a certificate that does not parse`, { cause: err });
  }
  const got = dnsNames(x509);
  if (got.length !== names.length || got.some((n, i) => n !== names[i])) {
    throw new WhisperError('ACME_BAD_RESPONSE', `${what}: the CA issued names [${got.join(', ')}] instead of [${names.join(', ')}]`);
  }
  if (!x509.checkPrivateKey(createPrivateKey(key))) {
    throw new WhisperError('ACME_BAD_RESPONSE', `${what}: the issued certificate is not for our key`);
  }
  const withNl = (p: string): string => `${p.trim()}\n`;
  return { key, cert: withNl(leaf), chain: chain.map(withNl).join('') };
}

/** Deactivates the order's still-pending authorizations (best effort, never rejects). */
export async function deactivatePending(ctx: OrderContext, certId: string, order: Order): Promise<void> {
  try {
    const client = ctx.cleanupClient();
    const authzs = await client.getAuthorizations(order);
    for (const authz of authzs.filter((a) => a.status === 'pending')) {
      ctx.log.debug({ certId, step: 'deactivateAuthorization', name: authz.identifier.value }, 'ACME step');
      await client.deactivateAuthorization(authz);
    }
  } catch (err) {
    ctx.log.debug({ certId, err: (err as Error)?.message }, 'could not deactivate pending authorizations');
  }
}
