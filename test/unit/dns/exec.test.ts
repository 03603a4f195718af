import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createExecProvider, stderrTail } from '../../../src/dns/exec.js';
import { isWhisperError, type WhisperError } from '../../../src/errors.js';

const SECRET = 'hook-secret-value-abcdefghijklmnopqrstuvwxyz';

// A lego-style hook: logs its arguments; the record name decides whether it fails or hangs.
const SCRIPT = `#!/bin/sh
printf '%s\\n' "$*" >> "$HOOK_LOG"
case "$2" in
  *fail*) echo "first line" >&2; echo "could not set $3" >&2; echo "last words" >&2; exit 3 ;;
  *slow*) sleep 30 ;;
esac
exit 0
`;

let dir: string;
let hook: string;
let log: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'whisper-exec-'));
  hook = join(dir, 'hook.sh');
  log = join(dir, 'calls.log');
  await writeFile(hook, SCRIPT);
  await chmod(hook, 0o755);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const provider = (extra: { timeoutMs?: number; args?: string[] } = {}) =>
  createExecProvider({ command: hook, env: { HOOK_LOG: log }, killGraceMs: 100, ...extra });

async function calls(): Promise<string[]> {
  const text = await readFile(log, 'utf8').catch(() => '');
  await rm(log, { force: true });
  return text.split('\n').filter((l) => l.length > 0);
}

describe('exec provider', () => {
  it('runs present and cleanup per record with the FQDN and its trailing dot, as lego does', async () => {
    const p = provider({ args: ['--zone-tool'] });
    expect(p.name).toBe('exec');
    const records = [
      { fqdn: '_acme-challenge.example.com', value: 'v1' },
      { fqdn: '_acme-challenge.www.example.com', value: 'v2' },
    ];
    await p.present(records);
    await p.cleanUp(records);
    expect(await calls()).toEqual([
      '--zone-tool present _acme-challenge.example.com. v1',
      '--zone-tool present _acme-challenge.www.example.com. v2',
      '--zone-tool cleanup _acme-challenge.example.com. v1',
      '--zone-tool cleanup _acme-challenge.www.example.com. v2',
    ]);
  });

  it('reports a non-zero exit with its code and stderr tail, never the value', async () => {
    const err = (await provider()
      .present([{ fqdn: '_acme-challenge.fail.example.com', value: SECRET }])
      .catch((e: unknown) => e)) as WhisperError;
    await calls();
    expect(isWhisperError(err, 'DNS_PROVIDER')).toBe(true);
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('present _acme-challenge.fail.example.com.');
    expect(err.message).toContain('exited with code 3');
    expect(err.message).toContain('last words');
    expect(err.message).toContain('could not set [redacted]');
    expect(err.message).not.toContain(SECRET);
  });

  it('runs every clean-up even when one fails, then reports the failure', async () => {
    const err = await provider()
      .cleanUp([
        { fqdn: '_acme-challenge.fail.example.com', value: 'a' },
        { fqdn: '_acme-challenge.ok.example.com', value: 'b' },
      ])
      .catch((e: unknown) => e);
    expect(isWhisperError(err, 'DNS_PROVIDER')).toBe(true);
    expect(await calls()).toEqual([
      'cleanup _acme-challenge.fail.example.com. a',
      'cleanup _acme-challenge.ok.example.com. b',
    ]);
  });

  it('kills a hook that runs past its timeout, with what it started', async () => {
    const err = (await provider({ timeoutMs: 200 })
      .present([{ fqdn: '_acme-challenge.slow.example.com', value: 'v' }])
      .catch((e: unknown) => e)) as WhisperError;
    await calls();
    expect(isWhisperError(err, 'DNS_PROVIDER')).toBe(true);
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('timed out after 200 ms');
  });

  it('stops the hook when the signal aborts', async () => {
    const ac = new AbortController();
    const running = provider().present([{ fqdn: '_acme-challenge.slow.example.com', value: 'v' }], ac.signal);
    ac.abort();
    const err = await running.catch((e: unknown) => e);
    await calls();
    expect(isWhisperError(err, 'ABORTED')).toBe(true);
  });

  it('does not start when already aborted', async () => {
    const err = await provider()
      .present([{ fqdn: '_acme-challenge.example.com', value: 'v' }], AbortSignal.abort())
      .catch((e: unknown) => e);
    expect(isWhisperError(err, 'ABORTED')).toBe(true);
    expect(await calls()).toEqual([]);
  });

  it('a command that cannot start is not retryable', async () => {
    const err = (await createExecProvider({ command: join(dir, 'missing-hook') })
      .present([{ fqdn: '_acme-challenge.example.com', value: 'v' }])
      .catch((e: unknown) => e)) as WhisperError;
    expect(isWhisperError(err, 'DNS_PROVIDER')).toBe(true);
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('ENOENT');
  });
});

describe('stderrTail', () => {
  it('keeps the last non-empty lines and removes the secret', () => {
    expect(stderrTail('a\n\nb\nc s3cr3t\nd\ne\nf\n', 's3cr3t', 3)).toBe('d | e | f');
    expect(stderrTail('x s3cr3t y\n', 's3cr3t')).toBe('x [redacted] y');
  });
});
