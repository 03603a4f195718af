/** An in-memory ACME CA behind the `AcmeClient` interface, and an in-memory store, for issuer tests. */
import type { Authorization, Order } from 'acme-client';
import { makeCert, makeKey, csrPublicKey } from '../store/x509-fixture.js';
import type { AcmeClient, AcmeClientFactory, AcmeClientSpec } from '../../../src/acme/types.js';
import type { AccountRecord, CertStore, StoredCert } from '../../../src/store/types.js';

type Method = Exclude<keyof AcmeClient, 'directory'>;
type Challenge = Authorization['challenges'][number];

/** Behaviour of the fake CA. */
export interface FakeCaOptions {
  /** Polls an authorization stays pending after its challenge was answered. @default 0 */
  pendingPolls?: number;
  /** Authorizations (by identifier value) that fail validation with this problem. */
  invalid?: Record<string, { type: string; detail: string }>;
  /** Identifiers whose authorization is already valid (reuse). */
  alreadyValid?: string[];
  /** Names the issued certificate carries instead of the ordered ones. */
  issuedNames?: string[];
  /** Methods that throw (every time, or only the first `times` calls). */
  failAt?: Partial<Record<Method, { error: Error; times?: number }>>;
  /** More challenge objects offered with dns-01 for an identifier (dns-persist-01, types nobody knows). @default none */
  extraChallenges?: (identifier: string) => object[];
  /** Called before each method runs (e.g. to abort). */
  before?: (method: Method) => void;
}

interface AuthzState {
  url: string;
  value: string;
  wildcard: boolean;
  status: Authorization['status'];
  answered: boolean;
  pollsLeft: number;
  challenge: Challenge;
  extra: Challenge[];
  /** The type of the challenge answered. */
  answeredWith?: string;
}

/** The fake CA: its factory, and what happened. */
export function fakeCa(options: FakeCaOptions = {}) {
  const ca = makeKey('ec');
  const caCert = makeCert({ subjectKey: ca.privateKey, issuerKey: ca.privateKey, subject: 'Fake CA', ca: true });
  const calls: string[] = [];
  const specs: AcmeClientSpec[] = [];
  const orders: unknown[] = [];
  const accounts: unknown[] = [];
  const deactivated: string[] = [];
  const authzs = new Map<string, AuthzState>();
  let csr: string | undefined;
  let finalized = false;
  let accountUrl: string | undefined;
  const failures = new Map<Method, number>();

  function enter(method: Method): void {
    calls.push(method);
    options.before?.(method);
    const fail = options.failAt?.[method];
    if (fail) {
      const count = (failures.get(method) ?? 0) + 1;
      failures.set(method, count);
      if (fail.times === undefined || count <= fail.times) throw fail.error;
    }
  }

  function view(state: AuthzState): Authorization {
    if (state.answered && state.status === 'pending') {
      if (state.pollsLeft > 0) state.pollsLeft -= 1;
      else state.status = options.invalid?.[state.value] ? 'invalid' : 'valid';
    }
    const error = state.status === 'invalid' ? options.invalid?.[state.value] : undefined;
    return {
      url: state.url,
      identifier: { type: 'dns', value: state.value },
      wildcard: state.wildcard,
      status: state.status,
      challenges: [{ ...state.challenge, ...(error ? { error, status: 'invalid' as const } : {}) }, ...state.extra],
    };
  }

  function orderView(order: Order): Order {
    const states = order.authorizations.map((u) => authzs.get(u) as AuthzState);
    let status: Order['status'] = 'pending';
    if (finalized) status = 'valid';
    else if (states.some((s) => s.status === 'invalid')) status = 'invalid';
    else if (states.every((s) => s.status === 'valid')) status = 'ready';
    return { ...order, status, ...(finalized ? { certificate: 'cert/1' } : {}) };
  }

  const client: AcmeClient = {
    async createAccount(data) {
      enter('createAccount');
      accounts.push(data);
      accountUrl = 'https://ca.test/acct/1';
      return { status: 'valid', orders: '' };
    },
    getAccountUrl() {
      calls.push('getAccountUrl');
      if (!accountUrl) throw new Error('No account URL found');
      return accountUrl;
    },
    async createOrder(payload) {
      enter('createOrder');
      orders.push(payload);
      const urls = payload.identifiers.map((id) => {
        const wildcard = id.value.startsWith('*.');
        const value = id.value.replace(/^\*\./, '');
        const url = `https://ca.test/authz/${id.value}`;
        const token = `token-${id.value}`;
        authzs.set(url, {
          url,
          value,
          wildcard,
          status: options.alreadyValid?.includes(id.value) ? 'valid' : 'pending',
          answered: false,
          pollsLeft: options.pendingPolls ?? 0,
          challenge: { type: 'dns-01', url: `https://ca.test/chall/${id.value}`, token, status: 'pending' },
          extra: (options.extraChallenges?.(id.value) ?? []) as Challenge[],
        });
        return url;
      });
      return orderView({ url: 'https://ca.test/order/1', status: 'pending', identifiers: payload.identifiers, authorizations: urls, finalize: 'https://ca.test/fin/1' });
    },
    async getOrder(order) {
      enter('getOrder');
      return orderView(order);
    },
    async getAuthorizations(order) {
      enter('getAuthorizations');
      return order.authorizations.map((u) => view(authzs.get(u) as AuthzState));
    },
    async getChallengeKeyAuthorization(challenge) {
      enter('getChallengeKeyAuthorization');
      return `txt-${(challenge as { token: string }).token}`;
    },
    async completeChallenge(challenge) {
      enter('completeChallenge');
      for (const s of authzs.values()) {
        if (s.challenge.url === challenge.url || s.extra.some((c) => c.url === challenge.url)) {
          s.answered = true;
          s.answeredWith = challenge.type;
        }
      }
      return challenge;
    },
    async finalizeOrder(order, request) {
      enter('finalizeOrder');
      csr = request.toString();
      finalized = true;
      return { ...orderView(order), status: 'processing' };
    },
    async getCertificate(order) {
      enter('getCertificate');
      if (csr === undefined) throw new Error('not finalized');
      const names = options.issuedNames ?? order.identifiers.map((i) => i.value);
      return makeCert({ subjectKey: csrPublicKey(csr), issuerKey: ca.privateKey, issuer: 'Fake CA', names }) + caCert;
    },
    async deactivateAuthorization(authz) {
      enter('deactivateAuthorization');
      deactivated.push(authz.identifier.value);
      const s = authzs.get(authz.url);
      if (s) s.status = 'deactivated';
      return authz;
    },
    async directory() {
      calls.push('directory');
      return { newOrder: 'https://ca.test/new-order' };
    },
  } satisfies AcmeClient;

  const factory: AcmeClientFactory = (spec) => {
    specs.push(spec);
    if (spec.accountUrl) accountUrl = spec.accountUrl;
    return client;
  };
  const answeredWith = (): Record<string, string | undefined> => Object.fromEntries([...authzs.values()].map((s) => [s.value, s.answeredWith]));
  return { factory, calls, specs, orders, accounts, deactivated, caCert, answeredWith };
}

/** A `CertStore` in memory; `events` records account writes. */
export function memoryStore(initial?: AccountRecord) {
  let account = initial;
  const events: string[] = [];
  const store: CertStore = {
    read: async () => undefined,
    list: async () => [],
    write: async () => ({}) as StoredCert,
    readAccount: async () => account,
    async writeAccount(record) {
      events.push(`writeAccount:${Object.keys(record.urls).length}`);
      account = record;
    },
  } satisfies CertStore;
  return { store, events, account: () => account };
}
