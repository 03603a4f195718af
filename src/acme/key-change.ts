import { WhisperError } from '../errors.js';
import type { AcmeClient, AcmeClientFactory } from './types.js';

// The parts of acme-client 5.x's Client (src/client.js) its updateAccountKey uses. Not in its typings.
interface ClientInternals {
  http: {
    getJwk(): Record<string, unknown>;
    getResourceUrl(resource: string): Promise<string>;
    createSignedBody(url: string, payload: unknown): unknown;
  };
  api: { updateAccountKey(body: unknown): Promise<{ data: unknown }> };
}

function internals(client: unknown): ClientInternals | undefined {
  const c = client as Partial<ClientInternals> | null;
  const ok =
    typeof c?.http?.getJwk === 'function' &&
    typeof c.http.getResourceUrl === 'function' &&
    typeof c.http.createSignedBody === 'function' &&
    typeof c.api?.updateAccountKey === 'function';
  return ok ? (c as ClientInternals) : undefined;
}

/**
 * `clients` whose `updateAccountKey` (RFC 8555 section 7.3.5) goes through the factory's own HTTP layer. acme-client's
 * builds a bare HTTP client for the new key, which reads the directory without the factory's CA bundle, timeout and
 * error mapping (a private CA's TLS fails there); here the new key's client comes from the same factory, signs the
 * inner JWS, and the old key's client sends it. A client that is not acme-client's (a test's fake) is left as it is.
 */
export function withKeyChange(clients: AcmeClientFactory): AcmeClientFactory {
  return (spec) => {
    const client = clients(spec);
    const inner = internals(client);
    if (inner === undefined) return client;
    const updateAccountKey: NonNullable<AcmeClient['updateAccountKey']> = async (newKey, data = {}) => {
      const fresh = internals(clients({ ...spec, accountKey: newKey.toString() }));
      if (fresh === undefined) throw new WhisperError('INTERNAL', 'acme-client internals changed: cannot change the account key');
      const account = client.getAccountUrl();
      const url = await fresh.http.getResourceUrl('keyChange');
      const body = fresh.http.createSignedBody(url, { ...data, account, oldKey: inner.http.getJwk() });
      type Account = Awaited<ReturnType<NonNullable<AcmeClient['updateAccountKey']>>>;
      // A 200 without a body (Pebble, Let's Encrypt) is the CA's yes; callers do not read the account object.
      return ((await inner.api.updateAccountKey(body)).data ?? {}) as Account;
    };
    return Object.assign(client, { updateAccountKey });
  };
}
