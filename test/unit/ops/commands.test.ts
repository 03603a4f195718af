import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WhisperError } from '../../../src/errors.js';
import { main } from '../../../src/cli.js';
import { opsCommand, type AccountDeps, type OpsDeps } from '../../../src/ops-commands.js';
import type { LockInfo } from '../../../src/ops/lock.js';
import type { RenewResult } from '../../../src/ops/types.js';

let cwd: string;
beforeEach(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'whisper-ops-cmd-'));
});
afterEach(async () => {
  await rm(cwd, { recursive: true, force: true });
});

const HOLDER: LockInfo = { pid: 7, host: 'h', started: 'x', heartbeat: 'x', kind: 'daemon', api: 'http://127.0.0.1:1' };
const RENEWED: RenewResult = { id: 'www.example.com', runsAt: '2026-01-01T00:00:00.000Z', message: 'renewal of www.example.com queued: runs now' };

/** Fake deps recording every call in order; the daemon is found when `daemon` is set. */
function fakes(o: { daemon?: boolean; fail?: unknown; lockFails?: unknown } = {}) {
  const calls: string[] = [];
  const args: unknown[] = [];
  const actions = (who: string) => ({
    renew: async (id: string, opts: unknown) => {
      calls.push(`${who}.renew ${id}`);
      args.push(opts);
      if (o.fail) throw o.fail;
      return RENEWED;
    },
    revoke: async (id: string, opts: { reason: string }) => {
      calls.push(`${who}.revoke ${id} ${opts.reason}`);
      args.push(opts);
      if (o.fail) throw o.fail;
      return { id, serial: 'AB12', reason: opts.reason as 'keyCompromise', replacement: RENEWED };
    },
    importCerts: async (pems: readonly { name: string; pem: string }[]) => {
      calls.push(`${who}.import ${pems.map((p) => `${p.name}=${p.pem}`).join(' ')}`);
      if (o.fail) throw o.fail;
      return pems.map((p) => ({ id: p.name, file: `${p.name}.pem`, names: [p.name], serial: '01', notAfter: '2026-05-01T00:00:00.000Z' }));
    },
  });
  const deps: OpsDeps = {
    findDaemon: async (folder, opts) => {
      calls.push(`find ${folder} ${opts.tokenFile ?? '-'}`);
      return o.daemon ? { holder: HOLDER, ...actions('daemon') } : undefined;
    },
    acquireLock: async (folder) => {
      calls.push(`lock ${folder}`);
      if (o.lockFails) throw o.lockFails;
      return { release: async () => void calls.push('release') };
    },
    openDirect: async (config) => {
      calls.push(`open ${config.certDir}`);
      return { ...actions('direct'), close: async () => void calls.push('close') };
    },
  };
  return { deps, calls, args };
}

function io() {
  let out = '';
  let err = '';
  return {
    io: { stdout: (t: string) => void (out += t), stderr: (t: string) => void (err += t), env: {}, cwd, logDestination: { write: () => undefined } },
    out: () => out,
    err: () => err,
  };
}

describe('renew', () => {
  it('goes through the daemon when one holds the folder, with the token file given', async () => {
    const f = fakes({ daemon: true });
    const o = io();
    expect(await opsCommand(['renew', 'certs', 'www.example.com', '--force', '--admin-token-file', 'tok'], o.io, { ops: f.deps })).toBe(0);
    expect(f.calls).toEqual([`find ${join(cwd, 'certs')} ${join(cwd, 'tok')}`, 'daemon.renew www.example.com']);
    expect(f.args[0]).toEqual({ force: true, by: 'cli' });
    expect(o.out()).toBe('renewal of www.example.com queued: runs now\n');
  });

  it('acts directly under the folder lock when no daemon runs, and says so', async () => {
    const f = fakes();
    const o = io();
    expect(await opsCommand(['renew', 'certs', 'www.example.com', '--json'], o.io, { ops: f.deps })).toBe(0);
    const dir = join(cwd, 'certs');
    expect(f.calls).toEqual([`find ${dir} -`, `lock ${dir}`, `open ${dir}`, 'direct.renew www.example.com', 'close', 'release']);
    expect(f.args[0]).toEqual({ force: false, by: 'cli' });
    expect(JSON.parse(o.out())).toEqual({ ...RENEWED, via: 'direct' });
  });

  it('exits 3 for an unknown certificate, after closing and releasing', async () => {
    const f = fakes({ fail: new WhisperError('NOT_FOUND', 'no certificate nope.example.com') });
    const o = io();
    expect(await opsCommand(['renew', 'certs', 'nope.example.com'], o.io, { ops: f.deps })).toBe(3);
    expect(f.calls.slice(-2)).toEqual(['close', 'release']);
    expect(o.err()).toBe('whisper-ts renew: no certificate nope.example.com\n');
  });

  it('reports a direct order the budget holds back as deferred, not failed', async () => {
    const until = new Date('2026-03-01T00:00:00Z');
    const f = fakes({ fail: new WhisperError('RATE_LIMIT_DEFERRED', 'order for www.example.com deferred until 2026-03-01T00:00:00.000Z: the exactSet budget (www.example.com) is spent', { retryAfter: until }) });
    const o = io();
    expect(await opsCommand(['renew', 'certs', 'www.example.com', '--force', '--json'], o.io, { ops: f.deps })).toBe(0);
    expect(JSON.parse(o.out())).toMatchObject({ runsAt: until.toISOString(), deferredBy: { bucket: 'exactSet', key: 'www.example.com' }, via: 'direct' });
    const g = fakes({ daemon: true, fail: new WhisperError('RATE_LIMIT_DEFERRED', 'budget spent') });
    expect(await opsCommand(['renew', 'certs', 'www.example.com'], o.io, { ops: g.deps })).toBe(1);
  });

  it('exits 1 when another process holds the folder', async () => {
    const f = fakes({ lockFails: new WhisperError('FOLDER_LOCKED', 'the folder is in use by a command (pid 9 on h, since x)') });
    const o = io();
    expect(await opsCommand(['renew', 'certs', 'www.example.com'], o.io, { ops: f.deps })).toBe(1);
    expect(o.err()).toContain('in use by a command (pid 9');
    expect(f.calls).not.toContain(`open ${join(cwd, 'certs')}`);
  });

  it('exits 2 for a missing argument or an invalid daemon option, touching nothing', async () => {
    const f = fakes();
    const o = io();
    expect(await opsCommand(['renew', 'certs'], o.io, { ops: f.deps })).toBe(2);
    expect(o.err()).toContain('missing required argument \'cert\'');
    expect(await opsCommand(['renew', 'certs', 'a.example.com', '--key-type', 'dsa'], o.io, { ops: f.deps })).toBe(2);
    expect(o.err()).toContain('--key-type: must be one of');
    expect(f.calls).toEqual([]);
  });

  it('documents the exit codes in its help', async () => {
    const o = io();
    expect(await opsCommand(['renew', '--help'], o.io, { ops: fakes().deps })).toBe(0);
    expect(o.out()).toMatch(/Exit codes: 0 done, 1 failure .* 2 invalid options or input, 3 the certificate is not found/s);
    expect(o.out()).toContain('--consul <host>');
  });
});

describe('revoke', () => {
  it('requires --yes and a known reason', async () => {
    const f = fakes({ daemon: true });
    const o = io();
    expect(await opsCommand(['revoke', 'certs', 'www.example.com'], o.io, { ops: f.deps })).toBe(2);
    expect(o.err()).toContain('cannot be undone: add --yes');
    expect(await opsCommand(['revoke', 'certs', 'www.example.com', '--yes', '--reason', 'whim'], o.io, { ops: f.deps })).toBe(2);
    expect(o.err()).toContain('Allowed choices are unspecified, keyCompromise');
    expect(f.calls).toEqual([]);
  });

  it('revokes with the reason and prints the replacement', async () => {
    const f = fakes({ daemon: true });
    const o = io();
    expect(await opsCommand(['revoke', 'certs', 'www.example.com', '--yes', '--reason', 'keyCompromise'], o.io, { ops: f.deps })).toBe(0);
    expect(f.args[0]).toEqual({ reason: 'keyCompromise', by: 'cli' });
    expect(o.out()).toBe('revoked www.example.com (serial AB12, reason keyCompromise); renewal of www.example.com queued: runs now\n');
  });

  it('defaults to the reason unspecified', async () => {
    const f = fakes();
    expect(await opsCommand(['revoke', 'certs', 'www.example.com', '--yes'], io().io, { ops: f.deps })).toBe(0);
    expect(f.args[0]).toEqual({ reason: 'unspecified', by: 'cli' });
  });
});

describe('import', () => {
  it('reads every file and imports them in one call', async () => {
    await writeFile(join(cwd, 'a.pem'), 'A');
    await writeFile(join(cwd, 'b.pem'), 'B');
    const f = fakes();
    const o = io();
    expect(await opsCommand(['import', 'certs', 'a.pem', join(cwd, 'b.pem')], o.io, { ops: f.deps })).toBe(0);
    expect(f.calls).toContain('direct.import a.pem=A b.pem=B');
    expect(o.out()).toBe('imported a.pem.pem: a.pem (serial 01, expires 2026-05-01T00:00:00.000Z); the daemon renews it on schedule once it runs\n' +
      'imported b.pem.pem: b.pem (serial 01, expires 2026-05-01T00:00:00.000Z); the daemon renews it on schedule once it runs\n');
  });

  it('exits 2 naming a file it cannot read, or the one the import refuses', async () => {
    const f = fakes();
    const o = io();
    expect(await opsCommand(['import', 'certs', 'missing.pem'], o.io, { ops: f.deps })).toBe(2);
    expect(o.err()).toMatch(/^whisper-ts import: missing\.pem: cannot read it/);
    expect(f.calls).toEqual([]);
    await writeFile(join(cwd, 'bad.pem'), 'x');
    const g = fakes({ fail: new WhisperError('CONFIG_INVALID', 'bad.pem: no private key') });
    expect(await opsCommand(['import', 'certs', 'bad.pem'], o.io, { ops: g.deps })).toBe(2);
    expect(o.err()).toContain('whisper-ts import: bad.pem: no private key');
  });
});

describe('account', () => {
  function accountFakes() {
    const calls: string[] = [];
    const deps: AccountDeps = {
      open: async (config, log) => {
        calls.push(`open ${config.directoryUrl}`);
        return { directoryUrl: config.directoryUrl, store: {} as never, folder: config.certDir, pendingKeyFile: 'p', clients: (() => undefined) as never, log, close: () => void calls.push('close') };
      },
      show: async (o) => (calls.push('show'), { directoryUrl: o.directoryUrl, url: 'https://ca/acct/1', thumbprint: 'TP', keyType: 'ecdsa-p256', status: 'valid', contact: ['mailto:a@example.com'], urls: {} }),
      rollover: async () => (calls.push('rollover'), { url: 'https://ca/acct/1', oldThumbprint: 'OLD', thumbprint: 'NEW', keyType: 'ecdsa-p256', keptAs: '.acme.old-1' }),
      deactivate: async (o) => (calls.push(`deactivate ${String(o.confirm)}`), { url: 'https://ca/acct/1', thumbprint: 'NEXT' }),
      record: (_config, event) => void calls.push(`record ${event.reason}: ${event.message}`),
    };
    return { deps, calls };
  }

  it('shows the account of the CA the options name', async () => {
    const f = accountFakes();
    const o = io();
    expect(await opsCommand(['account', 'certs', 'show', '--directory-url', 'https://ca/dir'], o.io, { account: f.deps })).toBe(0);
    expect(f.calls).toEqual(['open https://ca/dir', 'show', 'close']);
    expect(o.out()).toContain('account:   https://ca/acct/1\n');
    expect(o.out()).toContain('key:       ecdsa-p256, thumbprint TP\n');
  });

  it('rolls the key over (JSON) and deactivates only with --yes', async () => {
    const f = accountFakes();
    const o = io();
    expect(await opsCommand(['account', 'certs', 'rollover', '--json'], o.io, { account: f.deps })).toBe(0);
    expect(JSON.parse(o.out())).toMatchObject({ thumbprint: 'NEW', oldThumbprint: 'OLD' });
    expect(await opsCommand(['account', 'certs', 'deactivate'], o.io, { account: f.deps })).toBe(2);
    expect(o.err()).toContain('cannot be undone: add --yes');
    expect(await opsCommand(['account', 'certs', 'deactivate', '--yes'], o.io, { account: f.deps })).toBe(0);
    expect(f.calls).toContain('deactivate true');
    expect(f.calls.filter((c) => c.startsWith('record'))).toEqual([
      'record rollover: account https://ca/acct/1: key OLD replaced by NEW',
      'record deactivate: account https://ca/acct/1 deactivated; new key NEXT',
    ]);
    expect(await opsCommand(['account', 'certs', 'forget'], o.io, { account: f.deps })).toBe(2);
    expect(o.err()).toContain('Allowed choices are show, rollover, deactivate');
  });

  it('exits 1 when the account operation fails, still closing the store', async () => {
    const f = accountFakes();
    f.deps.show = async () => {
      throw new WhisperError('ACME_ACCOUNT', 'no ACME account in certs');
    };
    const o = io();
    expect(await opsCommand(['account', 'certs', 'show'], o.io, { account: f.deps })).toBe(1);
    expect(f.calls).toEqual([expect.stringMatching(/^open /), 'close']);
    expect(o.err()).toBe('whisper-ts account: no ACME account in certs\n');
  });
});

describe('main dispatches the operator\'s commands', () => {
  it('renew, revoke, account, import and history each have their help', async () => {
    for (const name of ['renew', 'revoke', 'account', 'import', 'history']) {
      let out = '';
      expect(await main([name, '--help'], { stdout: (t) => void (out += t), stderr: () => undefined, env: {} })).toBe(0);
      expect(out).toContain(`whisper-ts ${name}`);
    }
  });

  it('names them in the program\'s description', async () => {
    let out = '';
    await main(['--help'], { stdout: (t) => void (out += t.replace(/\s+/g, ' ')), stderr: () => undefined, env: {} });
    for (const c of ['history <folder>', 'renew <folder> <cert>', 'revoke <folder> <cert> --yes', 'account <folder> show|rollover|deactivate', 'import <folder> <pem>...']) expect(out).toContain(c);
  });
});
