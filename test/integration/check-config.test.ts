import { describe, it, expect, inject, afterAll } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deregisterService, registerService, startWhisper, uniq } from '../support/whisper.js';
import '../support/env-types.js';

const env = inject('env');
const dirs: string[] = [];
const services: string[] = [];
afterAll(async () => {
  for (const s of services) await deregisterService(env, s);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function configFile(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'whisper-check-config-'));
  dirs.push(dir);
  const file = join(dir, 'whisper.yaml');
  await writeFile(file, text);
  return file;
}

describe('whisper-ts check-config', () => {
  it('prints the policy each service registered in Consul would get, and the static domains', async () => {
    const zone = `cc${uniq()}.whisper.test`;
    const other = `cc${uniq()}.whisper.test`;
    const web = `cc-web-${uniq()}`;
    const api = `cc-api-${uniq()}`;
    services.push(web, api);
    await registerService(env, web, [`dns=${zone}`, 'vhost=www', 'vhost=shop', 'https=443']);
    await registerService(env, api, [`dns=${other}`, 'ssl=true']);
    const file = await configFile(`
dns:
  bind: { provider: rfc2136, server: ${env.dnsFront.addr} }
certificates:
  - label: other-rsa
    zone: ${other}
    dns: bind
    key_type: rsa2048
    reuse_key: true
domains:
  - static.${zone},www.static.${zone}
`);
    // Only this test's zones: the shared Consul holds other files' services.
    const w = startWhisper(['check-config', file, '--consul', env.consul.httpAddr, '--domain', zone, '--domain', other, '--json']);
    expect(await w.exited).toBe(0);
    const report = JSON.parse(w.output()) as { rows: { id: string; zone: string; backend: string; services: string[]; policy: { keyType: string; reuseKey: boolean; rule?: string } }[] };
    const rows = Object.fromEntries(report.rows.map((r) => [r.id, r]));
    expect(Object.keys(rows).sort()).toEqual([`${api}.${other}`, `multi-hosts.${zone}`, `static.${zone}`].sort());
    expect(rows[`${api}.${other}`]).toMatchObject({ backend: 'bind (rfc2136)', policy: { keyType: 'rsa2048', reuseKey: true, rule: 'other-rsa' }, services: [api] });
    expect(rows[`multi-hosts.${zone}`]).toMatchObject({ backend: 'route53 (--dns-provider)', policy: { keyType: 'ecdsa-p256', reuseKey: false }, services: [web] });
    expect(rows[`static.${zone}`]).toMatchObject({ zone, services: [`file:static.${zone},www.static.${zone}`] });
  });

  it('exits 2 with the file, line and key of an invalid file, before reading Consul', async () => {
    const file = await configFile('defaults:\n  key_type: rsa2048\n  renew_before: sometime\n');
    const w = startWhisper(['check-config', file, '--consul', '127.0.0.1:9']);
    expect(await w.exited).toBe(2);
    expect(w.output()).toMatch(/whisper\.yaml:3: defaults\.renew_before: "sometime" is not a number of days/);
  });
});
