/** A fake CA for the account operations: accounts by key, key changes, deactivation and revocation. */
import { WhisperError } from '../../src/errors.js';
import type { AcmeClient, AcmeClientFactory } from '../../src/acme/types.js';
import { keyThumbprint } from '../../src/store/account-key.js';

const URN = 'urn:ietf:params:acme:error:';

function problem(code: 'ACME_ACCOUNT' | 'ACME_ORDER', type: string, detail: string): WhisperError {
  return new WhisperError(code, `fake CA refused: ${detail}`, { cause: { type: URN + type, detail, status: 400 } });
}

/** What a test makes the fake CA do at one key change. */
export type KeyChangeFault = 'unreachable' | 'answer-lost';

export function fakeAccountCa() {
  /** Account URL per key thumbprint (the key the CA knows now). */
  const byKey = new Map<string, string>();
  const status = new Map<string, string>();
  const revoked = new Set<string>();
  const calls: string[] = [];
  const revocations: Array<{ reason: unknown }> = [];
  let next = 1;
  let keyChangeFault: KeyChangeFault | undefined;

  const register = (key: string): string => {
    const url = `https://ca.test/acct/${next++}`;
    byKey.set(keyThumbprint(key)!, url);
    status.set(url, 'valid');
    return url;
  };

  const factory: AcmeClientFactory = (spec) => {
    const tp = keyThumbprint(spec.accountKey)!;
    let url = spec.accountUrl;
    const known = () => {
      const u = byKey.get(tp);
      if (u === undefined) throw problem('ACME_ACCOUNT', 'accountDoesNotExist', 'no account for this key');
      if (status.get(u) === 'deactivated') throw problem('ACME_ORDER', 'unauthorized', 'account is deactivated');
      if (url !== undefined && url !== u) throw problem('ACME_ORDER', 'unauthorized', 'key and account do not match');
      return u;
    };
    const client: AcmeClient = {
      async createAccount(data?: { onlyReturnExisting?: boolean }) {
        calls.push('createAccount');
        if (data?.onlyReturnExisting) {
          url = known();
          return { status: status.get(url) ?? 'valid', contact: ['mailto:ops@example.com'], orders: '' };
        }
        url = byKey.get(tp) ?? register(spec.accountKey);
        return { status: 'valid', orders: '' };
      },
      getAccountUrl() {
        if (url === undefined) throw new Error('No account URL found');
        return url;
      },
      async updateAccountKey(newKey: string | Buffer) {
        calls.push('updateAccountKey');
        const fault = keyChangeFault;
        keyChangeFault = undefined;
        if (fault === 'unreachable') throw new WhisperError('ACME_ORDER', 'cannot reach the CA: ECONNREFUSED', { retryable: true });
        const u = known();
        byKey.delete(tp);
        byKey.set(keyThumbprint(newKey.toString())!, u);
        if (fault === 'answer-lost') throw new WhisperError('ACME_ORDER', 'cannot reach the CA: ECONNRESET', { retryable: true });
        return { status: 'valid', orders: '' };
      },
      async updateAccount(data?: { status?: string }) {
        calls.push('updateAccount');
        const u = known();
        if (data?.status === 'deactivated') status.set(u, 'deactivated');
        return { status: status.get(u)!, orders: '' };
      },
      async revokeCertificate(cert: string | Buffer, data?: { reason?: number }) {
        calls.push('revokeCertificate');
        known();
        const pem = cert.toString();
        if (revoked.has(pem)) throw problem('ACME_ORDER', 'alreadyRevoked', 'certificate already revoked');
        revoked.add(pem);
        revocations.push({ reason: data?.reason });
        return null;
      },
      directory: async () => ({}),
    } as unknown as AcmeClient;
    return client;
  };

  return {
    factory,
    calls,
    revocations,
    register,
    /** The URL the CA gives `key`'s account, if it knows the key. */
    urlOf: (key: string) => byKey.get(keyThumbprint(key)!),
    statusOf: (url: string) => status.get(url),
    /** The next key change fails: before the CA switches, or after (its answer lost). */
    failNextKeyChange(fault: KeyChangeFault) {
      keyChangeFault = fault;
    },
  };
}
