import { describe, it, expect } from 'vitest';
import { IncrementalPlanner } from '../../../src/plan/incremental.js';
import { planCertificates, type PlanOptions } from '../../../src/plan/planner.js';

/**
 * The conformance table: Consul tags in, the files whisper would write out (whisper's `_update_certificates`, the
 * contract's "File naming" and tag language), one row per rule. Each file is listed with the names of its certificate.
 */
interface Row {
  readonly rule: string;
  /** Service name → tags. */
  readonly services: ReadonlyArray<readonly [string, readonly string[]]>;
  readonly options?: PlanOptions;
  /** File name → the certificate's names (sorted). */
  readonly files: Readonly<Record<string, readonly string[]>>;
}

const rows: Row[] = [
  {
    rule: 'one vhost in a zone: <vhost>.<zone>.pem',
    services: [['web', ['dns=example.com', 'vhost=www', 'https=443']]],
    files: { 'www.example.com.pem': ['www.example.com'] },
  },
  {
    rule: 'two vhosts in a zone (one service): multi-hosts.<zone>.pem',
    services: [['web', ['dns=example.com', 'vhost=www', 'vhost=api', 'https=443']]],
    files: { 'multi-hosts.example.com.pem': ['api.example.com', 'www.example.com'] },
  },
  {
    rule: 'two vhosts in a zone (two services): multi-hosts.<zone>.pem',
    services: [
      ['web', ['dns=example.com', 'vhost=www', 'https=443']],
      ['api', ['dns=example.com', 'vhost=api', 'ssl=offloading']],
    ],
    files: { 'multi-hosts.example.com.pem': ['api.example.com', 'www.example.com'] },
  },
  {
    rule: 'a vhost on several services (url_prefix) is one name: still one vhost in the zone',
    services: [
      ['front', ['dns=example.com', 'vhost=www', 'url_prefix=/', 'https=443']],
      ['api', ['dns=example.com', 'vhost=www', 'url_prefix=/api', 'https=443']],
    ],
    files: { 'www.example.com.pem': ['www.example.com'] },
  },
  {
    rule: 'a vhost on several services beside another vhost: one multi-host certificate, each name once',
    services: [
      ['front', ['dns=example.com', 'vhost=www', 'url_prefix=/', 'https=443']],
      ['api', ['dns=example.com', 'vhost=www', 'url_prefix=/api', 'https=443']],
      ['shop', ['dns=example.com', 'vhost=shop', 'https=443']],
    ],
    files: { 'multi-hosts.example.com.pem': ['shop.example.com', 'www.example.com'] },
  },
  {
    rule: 'dns= twice: each zone is handled on its own',
    services: [['web', ['dns=example.com', 'dns=example.org', 'vhost=www', 'https=443']]],
    files: { 'www.example.com.pem': ['www.example.com'], 'www.example.org.pem': ['www.example.org'] },
  },
  {
    rule: 'dns= twice with two vhosts: a multi-host certificate per zone',
    services: [['web', ['dns=example.com', 'dns=example.org', 'vhost=www', 'vhost=api', 'https=443']]],
    files: {
      'multi-hosts.example.com.pem': ['api.example.com', 'www.example.com'],
      'multi-hosts.example.org.pem': ['api.example.org', 'www.example.org'],
    },
  },
  {
    rule: 'service ssl without vhost: <service>.<zone>.pem',
    services: [['grafana', ['dns=example.com', 'ssl=offloading']]],
    files: { 'grafana.example.com.pem': ['grafana.example.com'] },
  },
  {
    rule: 'service ssl without vhost, dns= twice: one file per zone',
    services: [['grafana', ['dns=example.com', 'dns=example.org', 'ssl=offloading']]],
    files: { 'grafana.example.com.pem': ['grafana.example.com'], 'grafana.example.org.pem': ['grafana.example.org'] },
  },
  {
    rule: 'https with a vhost asks for the vhost, as ssl does',
    services: [
      ['a', ['dns=a.example.com', 'vhost=www', 'https=443']],
      ['b', ['dns=b.example.com', 'vhost=www', 'ssl=on']],
    ],
    files: { 'www.a.example.com.pem': ['www.a.example.com'], 'www.b.example.com.pem': ['www.b.example.com'] },
  },
  {
    rule: 'https without a vhost asks for nothing (only ssl gives the service its own certificate)',
    services: [['web', ['dns=example.com', 'https=443']]],
    files: {},
  },
  {
    rule: 'a vhost without https or ssl asks for nothing',
    services: [['web', ['dns=example.com', 'vhost=www']]],
    files: {},
  },
  {
    rule: 'no dns= asks for nothing',
    services: [['web', ['vhost=www', 'https=443', 'ssl=on']]],
    files: {},
  },
  {
    rule: 'tags without = are ignored',
    services: [
      ['bare', ['dns', 'vhost', 'ssl', 'https']],
      ['web', ['http', 'dns=example.com', 'primary', 'ssl=offloading']],
    ],
    files: { 'web.example.com.pem': ['web.example.com'] },
  },
  {
    rule: 'keys repeated hold a list: every vhost= counts, duplicates once',
    services: [['web', ['dns=example.com', 'vhost=b', 'vhost=a', 'vhost=b', 'https=443', 'https=8443']]],
    files: { 'multi-hosts.example.com.pem': ['a.example.com', 'b.example.com'] },
  },
  {
    rule: 'a repeated vhost= of one name is still one name',
    services: [['web', ['dns=example.com', 'vhost=www', 'vhost=WWW', 'https=443']]],
    files: { 'www.example.com.pem': ['www.example.com'] },
  },
  {
    rule: 'a lone vhost <svc>.<zone> and the service certificate <svc>.<zone> are one file',
    services: [
      ['www', ['dns=example.com', 'ssl=offloading']],
      ['front', ['dns=example.com', 'vhost=www', 'https=443']],
    ],
    files: { 'www.example.com.pem': ['www.example.com'] },
  },
  {
    rule: 'a service certificate beside a zone of two vhosts keeps its own file',
    services: [
      ['www', ['dns=example.com', 'ssl=offloading']],
      ['front', ['dns=example.com', 'vhost=www', 'vhost=api', 'https=443']],
    ],
    files: { 'multi-hosts.example.com.pem': ['api.example.com', 'www.example.com'], 'www.example.com.pem': ['www.example.com'] },
  },
  {
    rule: '--domain: only the exact zones given are planned',
    services: [
      ['web', ['dns=example.com', 'vhost=www', 'https=443']],
      ['sub', ['dns=sub.example.com', 'vhost=www', 'https=443']],
      ['other', ['dns=example.org', 'ssl=on']],
    ],
    options: { domains: ['example.com'] },
    files: { 'www.example.com.pem': ['www.example.com'] },
  },
  {
    rule: 'a lone wildcard vhost (--allow-wildcard) stays multi-hosts.<zone>.pem: no `*` in a file name',
    services: [['web', ['dns=example.com', 'vhost=*', 'https=443']]],
    options: { allowWildcard: true },
    files: { 'multi-hosts.example.com.pem': ['*.example.com'] },
  },
  {
    rule: 'more names than maxNames: multi-hosts.<zone>.pem, multi-hosts-2.<zone>.pem, ...',
    services: [['web', ['dns=example.com', 'vhost=a', 'vhost=b', 'vhost=c', 'https=443']]],
    options: { maxNames: 2 },
    files: { 'multi-hosts.example.com.pem': ['a.example.com', 'b.example.com'], 'multi-hosts-2.example.com.pem': ['c.example.com'] },
  },
];

/** Static KV entries (`-l, --listen-path`, whisper's last release), with or beside services. */
interface StaticRow extends Omit<Row, 'services'> {
  readonly services?: Row['services'];
  /** `--listen-path` prefix → key → value. */
  readonly kv: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

const staticRows: StaticRow[] = [
  {
    rule: 'a static entry whose value is not SAN: a certificate of its own',
    kv: { 'whisper/static': { 'whisper/static/example.com/legacy': 'yes' } },
    files: { 'legacy.example.com.pem': ['legacy.example.com'] },
  },
  {
    rule: 'an empty value is not SAN either',
    kv: { 'whisper/static': { 'whisper/static/example.com/legacy': '' } },
    files: { 'legacy.example.com.pem': ['legacy.example.com'] },
  },
  {
    rule: 'one SAN entry alone in its zone: <host>.<zone>.pem (one name)',
    kv: { 'whisper/static': { 'whisper/static/example.com/www': 'SAN' } },
    files: { 'www.example.com.pem': ['www.example.com'] },
  },
  {
    rule: 'SAN entries join the vhosts of the zone in multi-hosts.<zone>.pem',
    services: [['web', ['dns=example.com', 'vhost=www', 'https=443']]],
    kv: { 'whisper/static': { 'whisper/static/example.com/intranet': 'SAN' } },
    files: { 'multi-hosts.example.com.pem': ['intranet.example.com', 'www.example.com'] },
  },
  {
    rule: 'a SAN entry naming a vhost already there is one name',
    services: [['web', ['dns=example.com', 'vhost=www', 'vhost=api', 'https=443']]],
    kv: { 'whisper/static': { 'whisper/static/example.com/www': 'SAN' } },
    files: { 'multi-hosts.example.com.pem': ['api.example.com', 'www.example.com'] },
  },
  {
    rule: 'a non-SAN entry beside vhosts keeps its own file; a service single of the same name is the same certificate',
    services: [
      ['web', ['dns=example.com', 'vhost=www', 'vhost=api', 'https=443']],
      ['legacy', ['dns=example.com', 'ssl=offloading']],
    ],
    kv: { 'whisper/static': { 'whisper/static/example.com/legacy': 'standalone' } },
    files: { 'legacy.example.com.pem': ['legacy.example.com'], 'multi-hosts.example.com.pem': ['api.example.com', 'www.example.com'] },
  },
  {
    rule: 'two listen paths add up',
    kv: { a: { 'a/example.com/one': 'SAN' }, b: { 'b/example.com/two': 'SAN' } },
    files: { 'multi-hosts.example.com.pem': ['one.example.com', 'two.example.com'] },
  },
  {
    rule: '--domain applies to static entries too',
    kv: { s: { 's/example.com/in': 'x', 's/example.org/out': 'x' } },
    options: { domains: ['example.com'] },
    files: { 'in.example.com.pem': ['in.example.com'] },
  },
  {
    rule: 'a key that is not <zone>/<host> is skipped',
    kv: { s: { 's/example.com/a/b': 'x', 's/example.com': 'x', 's/example.com/ok': 'x' } },
    files: { 'ok.example.com.pem': ['ok.example.com'] },
  },
];

const filesOf = (certs: ReadonlyArray<{ id: string; names: readonly string[] }>) => Object.fromEntries(certs.map((c) => [`${c.id}.pem`, [...c.names]]));

describe('conformance: tags → the files whisper writes', () => {
  it.each(rows.map((r) => [r.rule, r] as const))('%s', (_rule, row) => {
    const services = row.services.map(([name, tags]) => ({ name, tags }));
    const plan = planCertificates(services, row.options);
    expect(filesOf(plan.certs)).toEqual(row.files);
    // The daemon's incremental planner agrees, services added in any order.
    const planner = new IncrementalPlanner(row.options);
    const catalog = new Map<string, readonly string[]>();
    for (const [name, tags] of [...row.services].reverse()) {
      catalog.set(name, tags);
      planner.update(catalog, [name]);
    }
    expect(filesOf(planner.plan.certs)).toEqual(row.files);
  });
});

describe('conformance: static KV entries → the files whisper writes', () => {
  it.each(staticRows.map((r) => [r.rule, r] as const))('%s', (_rule, row) => {
    const planner = new IncrementalPlanner(row.options);
    const catalog = new Map<string, readonly string[]>(row.services ?? []);
    planner.update(catalog, 'all');
    for (const [prefix, entries] of Object.entries(row.kv)) planner.updateStatic(prefix, new Map(Object.entries(entries)));
    expect(filesOf(planner.plan.certs)).toEqual(row.files);
  });
});
