import type { ConsulApi } from './api.js';
import { ALL_DATACENTERS, DATACENTER_NAME, serviceKey } from './datacenters.js';
import { WhisperError } from '../errors.js';

/**
 * Reads the catalogs of `datacenters` once (`--datacenter`, for the dry run): `all` is every datacenter of
 * `GET /v1/catalog/datacenters`. Merged as `DatacenterCatalog` merges them, keys `web@dc2`; without datacenters,
 * the agent's own catalog by service name, asked without `dc`. A datacenter that cannot be read fails the read.
 */
export async function readCatalogs(api: ConsulApi, datacenters: readonly string[] | undefined, signal?: AbortSignal): Promise<Map<string, readonly string[]>> {
  const opts = signal ? { signal } : {};
  if (datacenters === undefined || datacenters.length === 0) return new Map(Object.entries((await api.catalogServices(opts)).services));
  const names = new Set(datacenters.filter((dc) => dc !== ALL_DATACENTERS));
  if (datacenters.includes(ALL_DATACENTERS)) {
    if (!api.datacenters) throw new WhisperError('INTERNAL', 'this Consul client cannot list datacenters');
    for (const dc of await api.datacenters(signal)) if (DATACENTER_NAME.test(dc)) names.add(dc);
  }
  const merged = new Map<string, readonly string[]>();
  const answers = await Promise.all([...names].sort().map(async (dc) => [dc, (await api.catalogServices({ ...opts, dc })).services] as const));
  for (const [dc, services] of answers) for (const [name, tags] of Object.entries(services)) merged.set(serviceKey(name, dc), tags);
  return merged;
}
