import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig } from '../../../src/config.js';
import { isWhisperError } from '../../../src/errors.js';
import { main } from '../../../src/cli.js';

const KEY_A = Buffer.alloc(32, 1).toString('base64');
const KEY_B = Buffer.alloc(32, 2).toString('base64');
const files: Record<string, string> = { '/etc/whisper/kv.keys': `new:${KEY_B}\nold:${KEY_A}\n`, '/etc/whisper/short.keys': `k1:${Buffer.alloc(16).toString('base64')}\n` };
const read = (f: string): string => {
  const text = files[f];
  if (text === undefined) throw new Error(`ENOENT: no such file, open '${f}'`);
  return text;
};
const build = (raw: Record<string, unknown>, env: Record<string, string> = {}) => buildConfig('certs', raw, { env, cwd: '/srv', readFile: read });

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(isWhisperError(err, 'CONFIG_INVALID')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected CONFIG_INVALID');
}

const dir = mkdtempSync(join(tmpdir(), 'whisper-kvkeys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('--kv-encryption-key-file', () => {
  it('reads the keys (flag or WHISPER_KV_ENCRYPTION_KEY_FILE); the first one encrypts', () => {
    const c = build({ ha: true, kvEncryptionKeyFile: '/etc/whisper/kv.keys' });
    expect(c.kvEncryption?.file).toBe('/etc/whisper/kv.keys');
    expect(c.kvEncryption?.keyring.writeId).toBe('new');
    expect(c.kvEncryption?.keyring.ids).toEqual(['new', 'old']);
    expect(build({ store: 'consul' }, { WHISPER_KV_ENCRYPTION_KEY_FILE: '/etc/whisper/kv.keys' }).kvEncryption?.keyring.writeId).toBe('new');
    expect(build({ ha: true }).kvEncryption).toBeUndefined();
  });

  it('keeps the keys out of a printed config', () => {
    const c = build({ ha: true, kvEncryptionKeyFile: '/etc/whisper/kv.keys' });
    expect(JSON.stringify(c)).not.toContain(KEY_B);
    expect(JSON.stringify(c)).not.toContain(KEY_A);
  });

  it('refuses a missing file or a bad key, naming the file', () => {
    expect(configError(() => build({ ha: true, kvEncryptionKeyFile: '/nope' }))).toMatch(/^--kv-encryption-key-file: .*\/nope/);
    expect(configError(() => build({ ha: true, kvEncryptionKeyFile: '/etc/whisper/short.keys' }))).toMatch(/\/etc\/whisper\/short\.keys line 1: .*16 bytes, not 32/);
  });

  it('is refused without --ha or --store consul (nothing is kept in Consul KV)', () => {
    expect(configError(() => build({ kvEncryptionKeyFile: '/etc/whisper/kv.keys' }))).toMatch(/^--kv-encryption-key-file: .*--ha or --store consul/);
  });

  it('exits 2 at start for a key file of the wrong format, naming the file', async () => {
    const file = join(dir, 'bad.keys');
    writeFileSync(file, 'not a key line\n', { mode: 0o600 });
    const err: string[] = [];
    const code = await main(['certs', '--ha', '--kv-encryption-key-file', file], { env: {}, cwd: dir, stdout: () => undefined, stderr: (t) => void err.push(t) });
    expect(code).toBe(2);
    expect(err.join('')).toContain(file);
    expect(err.join('')).toMatch(/line 1/);
  });
});
