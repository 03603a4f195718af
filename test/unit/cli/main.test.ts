import { describe, it, expect } from 'vitest';
import { main } from '../../../src/cli.js';
import type { ConsulApi } from '../../../src/consul/api.js';
import type { CertStore } from '../../../src/store/types.js';

function io(extra: Record<string, unknown> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { env: {}, cwd: '/srv', stdout: (t: string) => void out.push(t), stderr: (t: string) => void err.push(t), ...extra } };
}

describe('main()', () => {
  it('prints help with every option and its environment variable, exit 0', async () => {
    const t = io();
    expect(await main(['--help'], t.io)).toBe(0);
    const help = t.out.join('');
    expect(help).toContain('-c, --consul <host>');
    expect(help.replace(/\s+/g, ' ')).toContain('[env: WHISPER_CONSUL, CONSUL, CONSUL_HTTP_ADDR]');
    expect(help).toContain('--dryrun');
  });

  it('exits 2 with a message naming the option for invalid config', async () => {
    const t = io();
    expect(await main(['certs', '--key-type', 'dsa'], t.io)).toBe(2);
    expect(t.err.join('')).toMatch(/^whisper-ts: --key-type: must be one of/);
  });

  it('exits 2 at start for --ha settings that could let two leaders overlap, naming the options', async () => {
    const t = io();
    expect(await main(['certs', '--ha', '--lock-delay', '2'], t.io)).toBe(2);
    expect(t.err.join('')).toMatch(/^whisper-ts: --check-ttl: .*--lock-delay/);
  });

  it('exits 2 for an unknown flag', async () => {
    const t = io();
    expect(await main(['certs', '--no-such-flag'], t.io)).toBe(2);
    expect(t.err.join('')).toMatch(/unknown option '--no-such-flag'/);
  });

  it('--dryrun prints the plan from the catalog and the folder, without a CA', async () => {
    const consul: ConsulApi = {
      catalogServices: async () => ({ index: 7, services: { web: ['dns=example.com', 'ssl=on'], bad: ['dns=../x', 'ssl=on'] } }),
      kvSet: async () => { throw new Error('dry run must not write'); },
      kvGet: async () => undefined,
      leader: async () => '127.0.0.1:8300',
    } as unknown as ConsulApi;
    const store: CertStore = {
      read: async () => undefined,
      list: async () => [],
      write: async () => { throw new Error('dry run must not write'); },
      readAccount: async () => undefined,
      writeAccount: async () => { throw new Error('dry run must not write'); },
    };
    const t = io({ parts: { consul, store } });
    expect(await main(['certs', '--dryrun'], t.io)).toBe(0);
    const text = t.out.join('');
    expect(text).toContain('would order  web.example.com.pem  [web.example.com]');
    expect(text).toMatch(/rejected +service "bad" tag "dns=\.\.\/x"/);
  });
});
