import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import Consul from 'consul';
import { WhisperError } from '../errors.js';
import { createConsulAgent } from './agent.js';
import { formatConsulAddress, parseConsulAddress } from './address.js';
import { DEFAULT_CONSUL_WAIT, blockingTimeoutMs } from './duration.js';
import { toConsulError } from './errors.js';
import { headerIndex, isNotFound, parseServices, toKvItem } from './answers.js';

/** Options of {@link ConsulApi.catalogServices}. */
export interface CatalogQuery {
  /** Block until the catalog's index passes this one (a blocking query); absent or 0: answer at once. */
  index?: number;
  /** Longest wait of a blocking query, a Consul duration. @default '5m' */
  wait?: string;
  /** Datacenter to ask (`?dc=`), through the agent's servers over the WAN. @default the agent's own (no `dc` sent) */
  dc?: string;
  signal?: AbortSignal;
}

/** The catalog's service list at one index. */
export interface CatalogServices {
  /** `X-Consul-Index` of the answer (0 when Consul sent none). */
  index: number;
  /** Every service name with the union of its instances' tags. */
  services: Record<string, string[]>;
}

/** What whisper-ts asks of Consul: the I/O edge that the watcher, the notifier and the CLI share. */
export interface ConsulApi {
  /** GET /v1/catalog/services (blocking when index > 0): every service name with the union of its tags. */
  catalogServices(opts: CatalogQuery): Promise<CatalogServices>;
  /** GET /v1/catalog/datacenters: every datacenter the agent's servers know over the WAN (`--datacenter all`). */
  datacenters?(signal?: AbortSignal): Promise<string[]>;
  /** PUT /v1/kv/<key>. */
  kvSet(key: string, value: string, signal?: AbortSignal): Promise<void>;
  /** GET /v1/kv/<key>: its value, or undefined when the key does not exist. */
  kvGet(key: string, signal?: AbortSignal): Promise<string | undefined>;
  /** GET /v1/status/leader: the Raft leader's `host:port`, empty while there is none. */
  leader(signal?: AbortSignal): Promise<string>;
  /** Closes idle keep-alive connections. */
  close?(): void;
  /**
   * Connections to Consul closed so far. A closed keep-alive connection may mean a restarted agent, whose index can
   * be below ours: a blocking query with our index would then sleep its whole wait before showing that.
   */
  closedConnections?(): number;
  /** PUT /v1/agent/service/register: this instance as a service with one TTL check (high availability). */
  agentServiceRegister?(service: InstanceService, signal?: AbortSignal): Promise<void>;
  /** PUT /v1/agent/check/pass/<id>: the TTL check is passing for another TTL. */
  agentCheckPass?(id: string, signal?: AbortSignal): Promise<void>;
  /** PUT /v1/agent/service/deregister/<id>, with its check; a service the agent does not know counts as done. */
  agentServiceDeregister?(id: string, signal?: AbortSignal): Promise<void>;
  /** PUT /v1/session/create: a new session's id (high availability). */
  sessionCreate?(spec: SessionSpec, signal?: AbortSignal): Promise<string>;
  /** PUT /v1/session/renew/<id>: false when Consul no longer knows the session (it was invalidated). */
  sessionRenew?(id: string, signal?: AbortSignal): Promise<boolean>;
  /** PUT /v1/session/destroy/<id> (releases its locks). */
  sessionDestroy?(id: string, signal?: AbortSignal): Promise<void>;
  /**
   * PUT /v1/kv/<key>?cas=<index>: writes only if the key's ModifyIndex is still `cas` (0: only if the key does not
   * exist). Whether Consul stored it.
   */
  kvCas?(key: string, value: string, cas: number, signal?: AbortSignal): Promise<boolean>;
  /** PUT /v1/kv/<key>?acquire=<session>: whether the lock was taken. */
  kvAcquire?(key: string, value: string, session: string, signal?: AbortSignal): Promise<boolean>;
  /** PUT /v1/kv/<key>?release=<session>: whether the lock was held and is now released. */
  kvRelease?(key: string, session: string, signal?: AbortSignal): Promise<boolean>;
  /** GET /v1/kv/<key> (blocking when index > 0), with the holding session. */
  kvRead?(key: string, opts: KvQuery): Promise<KvRead>;
  /** GET /v1/kv/<prefix>?recurse (blocking when index > 0). */
  kvList?(prefix: string, opts: KvQuery): Promise<KvListing>;
  /** DELETE /v1/kv/<key> (one key, not recursive); a key that does not exist counts as deleted. */
  kvDelete?(key: string, signal?: AbortSignal): Promise<void>;
}

/** A session for a leader lock (see {@link ConsulApi.sessionCreate}). */
export interface SessionSpec {
  readonly name: string;
  /** Consul duration, 10s to 24h. */
  readonly ttl: string;
  /** Consul duration during which a released lock cannot be taken again. */
  readonly lockDelay: string;
  readonly behavior: 'release' | 'delete';
  /** Health checks of the session's node: the session ends as soon as one is critical. @default ['serfHealth'] */
  readonly checks?: readonly string[];
}

/** An instance registered with the agent, with one TTL check (see {@link ConsulApi.agentServiceRegister}). */
export interface InstanceService {
  /** The service's ID, also its check's ID. */
  readonly id: string;
  readonly name: string;
  readonly meta?: Readonly<Record<string, string>>;
  readonly checkName: string;
  /** Consul duration after which the check turns critical unless passed again. */
  readonly ttl: string;
  /** Consul duration after which the agent removes the service once its check is critical (1m at least). */
  readonly deregisterAfter: string;
}

/** Options of the KV reads; same meaning as {@link CatalogQuery}. */
export type KvQuery = CatalogQuery;

/** One KV entry, its value decoded as UTF-8. */
export interface KvItem {
  readonly key: string;
  readonly value: string;
  /** The session holding the key's lock, if any. */
  readonly session?: string;
  readonly modifyIndex: number;
}

/** A key at one index (see {@link ConsulApi.kvRead}). */
export interface KvRead {
  readonly index: number;
  readonly item?: KvItem;
}

/** Every key under a prefix at one index (see {@link ConsulApi.kvList}). */
export interface KvListing {
  readonly index: number;
  readonly items: readonly KvItem[];
}

/** Options of {@link createConsulApi}. */
export interface ConsulApiOptions {
  /** `host`, `host:port`, `[v6]:port` or `http(s)://host:port`. The port defaults to 8500. */
  address: string;
  /** ACL token, sent as `X-Consul-Token`. */
  token?: string;
  /** HTTPS (a `https://` address implies it). @default false */
  secure?: boolean;
  /** PEM file of the CA that signed Consul's certificate. @default the system's roots */
  caFile?: string;
  /** PEM client certificate, when Consul verifies clients. */
  certFile?: string;
  /** PEM key of `certFile`. */
  keyFile?: string;
  /** Timeout of a non-blocking request, and the margin added to a blocking query's wait. @default 10000 */
  timeoutMs?: number;
}

/** A request context node-consul (papi) understands: `includeResponse` gives `[res, body]`, `cancel` aborts. */
type Ctx = EventEmitter & { includeResponse: true };
type CallOptions = Record<string, unknown> & { ctx: Ctx; timeout: number };
type Answer = [res: IncomingMessage, body?: unknown];

/** The part of node-consul used here; its bundled types do not declare `ctx` and `timeout`. */
interface NodeConsul {
  catalog: { datacenters(opts: CallOptions): Promise<Answer>; service: { list(opts: CallOptions): Promise<Answer> } };
  kv: { get(opts: CallOptions): Promise<Answer>; set(opts: CallOptions): Promise<Answer>; del(opts: CallOptions): Promise<Answer> };
  agent: {
    service: { register(opts: CallOptions): Promise<Answer>; deregister(opts: CallOptions): Promise<Answer> };
    check: { pass(opts: CallOptions): Promise<Answer> };
  };
  session: {
    create(opts: CallOptions): Promise<Answer>;
    renew(opts: CallOptions): Promise<Answer>;
    destroy(opts: CallOptions): Promise<Answer>;
  };
  status: { leader(opts: CallOptions): Promise<Answer> };
  destroy(): void;
}

/** The {@link ConsulApi} over node-consul, with TLS through an `https.Agent` and requests cancelled by AbortSignal. */
export function createConsulApi(options: ConsulApiOptions): ConsulApi {
  const address = parseConsulAddress(options.address, options.secure ?? false);
  const where = formatConsulAddress(address);
  const marginMs = options.timeoutMs ?? 10_000;
  const { agent, closedConnections } = createConsulAgent(address.secure, options);
  const consul = new Consul({
    host: address.host.includes(':') ? `[${address.host}]` : address.host,
    port: address.port,
    secure: address.secure,
    agent,
    ...(options.token ? { defaults: { token: options.token } } : {}),
  }) as unknown as NodeConsul;
  // papi keeps the URL's bracketed IPv6 hostname, which http.request would try to resolve as a name.
  const baseUrl = (consul as unknown as { _opts?: { baseUrl?: { hostname?: string } } })._opts?.baseUrl;
  if (baseUrl && address.host.includes(':')) baseUrl.hostname = address.host;

  async function call(endpoint: string, timeout: number, signal: AbortSignal | undefined, run: (o: CallOptions) => Promise<Answer>): Promise<Answer> {
    if (signal?.aborted) throw new WhisperError('ABORTED', `${endpoint} aborted`);
    const ctx: Ctx = Object.assign(new EventEmitter(), { includeResponse: true as const });
    const onAbort = () => ctx.emit('cancel');
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await run({ ctx, timeout });
    } catch (err) {
      throw toConsulError(err, endpoint, where, signal);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  const kvEndpoint = (method: string, key: string) => `${method} /v1/kv/${key}`;
  return {
    async catalogServices({ index, wait, dc, signal }) {
      const blocking = index !== undefined && index > 0;
      const w = wait ?? DEFAULT_CONSUL_WAIT;
      const timeout = blocking ? blockingTimeoutMs(w, marginMs) : marginMs;
      const endpoint = dc === undefined ? 'GET /v1/catalog/services' : `GET /v1/catalog/services?dc=${dc}`;
      const withDc = dc === undefined ? {} : { dc };
      const [res, body] = await call(endpoint, timeout, signal, (o) =>
        consul.catalog.service.list(blocking ? { ...o, ...withDc, index, wait: w } : { ...o, ...withDc }),
      );
      return { index: headerIndex(res.headers), services: parseServices(body, where) };
    },

    async datacenters(signal) {
      const [, body] = await call('GET /v1/catalog/datacenters', marginMs, signal, (o) => consul.catalog.datacenters(o));
      if (!Array.isArray(body) || !body.every((d) => typeof d === 'string')) {
        throw new WhisperError('CONSUL_ERROR', `Consul at ${where} answered GET /v1/catalog/datacenters with something other than a list of names`, { retryable: true });
      }
      return body;
    },

    async kvSet(key, value, signal) {
      const [, ok] = await call(kvEndpoint('PUT', key), marginMs, signal, (o) => consul.kv.set({ ...o, key, value }));
      if (ok !== true) throw new WhisperError('CONSUL_ERROR', `Consul at ${where} did not store ${kvEndpoint('PUT', key)}`, { retryable: true });
    },

    async kvGet(key, signal) {
      const [, item] = await call(kvEndpoint('GET', key), marginMs, signal, (o) => consul.kv.get({ ...o, key }));
      if (item === undefined || item === null) return undefined;
      const value = (item as { Value?: unknown }).Value;
      return typeof value === 'string' ? value : '';
    },

    async sessionCreate(spec, signal) {
      const [, body] = await call('PUT /v1/session/create', marginMs, signal, (o) =>
        consul.session.create({ ...o, name: spec.name, ttl: spec.ttl, lockdelay: spec.lockDelay, behavior: spec.behavior, ...(spec.checks ? { checks: spec.checks } : {}) }),
      );
      const id = (body as { ID?: unknown } | undefined)?.ID;
      if (typeof id !== 'string') throw new WhisperError('CONSUL_ERROR', `Consul at ${where} answered PUT /v1/session/create without an ID`, { retryable: true });
      return id;
    },

    async agentServiceRegister(service, signal) {
      const check = { checkid: service.id, name: service.checkName, ttl: service.ttl, status: 'passing', deregistercriticalserviceafter: service.deregisterAfter };
      await call('PUT /v1/agent/service/register', marginMs, signal, (o) =>
        consul.agent.service.register({ ...o, name: service.name, id: service.id, ...(service.meta ? { meta: service.meta } : {}), check }),
      );
    },

    async agentCheckPass(id, signal) {
      await call(`PUT /v1/agent/check/pass/${id}`, marginMs, signal, (o) => consul.agent.check.pass({ ...o, id }));
    },

    async agentServiceDeregister(id, signal) {
      await call(`PUT /v1/agent/service/deregister/${id}`, marginMs, signal, (o) => consul.agent.service.deregister({ ...o, id })).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    },

    async sessionRenew(id, signal) {
      try {
        const [, body] = await call(`PUT /v1/session/renew/${id}`, marginMs, signal, (o) => consul.session.renew({ ...o, id }));
        return Array.isArray(body) ? body.length > 0 : true;
      } catch (err) {
        if (isNotFound(err)) return false;
        throw err;
      }
    },

    async sessionDestroy(id, signal) {
      await call(`PUT /v1/session/destroy/${id}`, marginMs, signal, (o) => consul.session.destroy({ ...o, id }));
    },

    async kvCas(key, value, cas, signal) {
      const [, ok] = await call(kvEndpoint('PUT', `${key}?cas=${cas}`), marginMs, signal, (o) => consul.kv.set({ ...o, key, value, cas }));
      return ok === true;
    },

    async kvAcquire(key, value, session, signal) {
      const [, ok] = await call(kvEndpoint('PUT', `${key}?acquire`), marginMs, signal, (o) => consul.kv.set({ ...o, key, value, acquire: session }));
      return ok === true;
    },

    async kvRelease(key, session, signal) {
      const [, ok] = await call(kvEndpoint('PUT', `${key}?release`), marginMs, signal, (o) => consul.kv.set({ ...o, key, value: '', release: session }));
      return ok === true;
    },

    async kvDelete(key, signal) {
      const [, ok] = await call(kvEndpoint('DELETE', key), marginMs, signal, (o) => consul.kv.del({ ...o, key }));
      if (ok !== true) throw new WhisperError('CONSUL_ERROR', `Consul at ${where} did not delete ${kvEndpoint('DELETE', key)}`, { retryable: true });
    },

    async kvRead(key, { index, wait, signal }) {
      const blocking = index !== undefined && index > 0;
      const w = wait ?? DEFAULT_CONSUL_WAIT;
      const [res, item] = await call(kvEndpoint('GET', key), blocking ? blockingTimeoutMs(w, marginMs) : marginMs, signal, (o) =>
        consul.kv.get(blocking ? { ...o, key, index, wait: w } : { ...o, key }),
      );
      const found = toKvItem(item);
      return { index: headerIndex(res.headers), ...(found ? { item: found } : {}) };
    },

    async kvList(prefix, { index, wait, signal }) {
      const blocking = index !== undefined && index > 0;
      const w = wait ?? DEFAULT_CONSUL_WAIT;
      const [res, body] = await call(kvEndpoint('GET', `${prefix}?recurse`), blocking ? blockingTimeoutMs(w, marginMs) : marginMs, signal, (o) =>
        consul.kv.get(blocking ? { ...o, key: prefix, recurse: true, index, wait: w } : { ...o, key: prefix, recurse: true }),
      );
      const items = Array.isArray(body) ? body.map(toKvItem).filter((i): i is KvItem => i !== undefined) : [];
      return { index: headerIndex(res.headers), items };
    },

    async leader(signal) {
      const [, body] = await call('GET /v1/status/leader', marginMs, signal, (o) => consul.status.leader(o));
      return typeof body === 'string' ? body : '';
    },

    closedConnections,

    close() {
      consul.destroy();
    },
  } satisfies ConsulApi;
}
