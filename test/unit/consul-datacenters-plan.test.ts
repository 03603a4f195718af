import { describe, it, expect } from 'vitest';
import { IncrementalPlanner } from '../../src/plan/incremental.js';
import { serviceNameOf } from '../../src/consul/datacenters.js';
import { readCatalogs } from '../../src/consul/datacenters-read.js';
import type { CatalogQuery, ConsulApi } from '../../src/consul/api.js';
import { buildConfig } from '../../src/config.js';
import { isWhisperError } from '../../src/errors.js';

const plan = (services: Record<string, string[]>, withDatacenters = true) => {
  const planner = new IncrementalPlanner(withDatacenters ? { serviceName: serviceNameOf } : {});
  return planner.update(new Map(Object.entries(services)), 'all');
};

describe('the merged catalog in the planner', () => {
  it('the same service and tags in two datacenters is one certificate, whose services name both', () => {
    const p = plan({ 'web@dc1': ['dns=example.com', 'ssl=on'], 'web@dc2': ['dns=example.com', 'ssl=on'] });
    expect(p.certs).toEqual([{ id: 'web.example.com', kind: 'single', zone: 'example.com', names: ['web.example.com'], services: ['web@dc1', 'web@dc2'] }]);
  });

  it('vhosts of two datacenters join the zone certificate, with file names and ids as from one datacenter', () => {
    const one = plan({ a: ['dns=example.com', 'vhost=www', 'https=443'], b: ['dns=example.com', 'vhost=api', 'https=443'] }, false);
    const two = plan({ 'a@dc1': ['dns=example.com', 'vhost=www', 'https=443'], 'b@dc2': ['dns=example.com', 'vhost=api', 'https=443'] });
    expect(two.certs.map((c) => ({ id: c.id, names: c.names }))).toEqual(one.certs.map((c) => ({ id: c.id, names: c.names })));
    expect(two.certs[0]!.services).toEqual(['a@dc1', 'b@dc2']);
  });

  it('each datacenter keeps its own tags: no cross product of two datacenters\' vhosts and zones', () => {
    const p = plan({ 'web@dc1': ['dns=a.example', 'vhost=x', 'https=443'], 'web@dc2': ['dns=b.example', 'vhost=y', 'https=443'] });
    expect(p.certs.flatMap((c) => c.names).sort()).toEqual(['x.a.example', 'y.b.example']);
  });

  it('problems name the service with its datacenter', () => {
    const p = plan({ 'web@dc2': ['dns=example.com', 'vhost=bad_name!', 'https=443'] });
    expect(p.problems.map((x) => x.service)).toEqual(['web@dc2']);
  });

  it('without datacenters, a service whose name holds @ is planned as before (its own name, no split)', () => {
    const p = plan({ 'a@b': ['dns=example.com', 'ssl=on'] }, false);
    expect(p.certs).toEqual([]);
    expect(p.problems[0]?.service).toBe('a@b');
  });
});

function fakeApi(byDc: Record<string, Record<string, string[]>>, local = 'dc1') {
  const queries: CatalogQuery[] = [];
  const api: ConsulApi = {
    async catalogServices(q) {
      queries.push(q.dc === undefined ? {} : { dc: q.dc });
      return { index: 1, services: structuredClone(byDc[q.dc ?? local] ?? {}) };
    },
    async datacenters() {
      return Object.keys(byDc);
    },
    async kvSet() {},
    async kvGet() {
      return undefined;
    },
    async leader() {
      return '';
    },
  };
  return { api, queries };
}

describe('readCatalogs (the dry run)', () => {
  it('without --datacenter: the agent\'s catalog by name, asked without dc', async () => {
    const { api, queries } = fakeApi({ dc1: { web: ['x'] } });
    expect(await readCatalogs(api, undefined)).toEqual(new Map([['web', ['x']]]));
    expect(queries).toEqual([{}]);
  });

  it('all: every listed datacenter, merged as web@dc', async () => {
    const { api, queries } = fakeApi({ dc1: { web: ['x'] }, dc2: { web: ['x'], db: [] } });
    const merged = await readCatalogs(api, ['all']);
    expect([...merged.keys()].sort()).toEqual(['db@dc2', 'web@dc1', 'web@dc2']);
    expect(queries.map((q) => q.dc).sort()).toEqual(['dc1', 'dc2']);
  });
});

describe('--datacenter', () => {
  const noFiles = (f: string): string => {
    throw new Error(`unexpected read of ${f}`);
  };
  const build = (raw: Record<string, unknown>, env: Record<string, string> = {}) => buildConfig('certs', raw, { env, cwd: '/srv', readFile: noFiles });

  it('is absent by default, repeatable, and read from WHISPER_DATACENTERS', () => {
    expect(build({}).consul.datacenters).toBeUndefined();
    expect(build({ datacenter: ['dc1', 'dc2', 'dc1'] }).consul.datacenters).toEqual(['dc1', 'dc2']);
    expect(build({}, { WHISPER_DATACENTERS: 'all' }).consul.datacenters).toEqual(['all']);
  });

  it('refuses what is not a datacenter name', () => {
    for (const bad of ['dc 1', 'dc@1', 'dc/1', 'dc.1']) {
      let err: unknown;
      try {
        build({ datacenter: [bad] });
      } catch (e) {
        err = e;
      }
      expect(isWhisperError(err, 'CONFIG_INVALID'), bad).toBe(true);
      expect((err as Error).message).toContain('--datacenter');
    }
  });
});
