import { describe, it, expect } from 'vitest';
import { buildConfig } from '../../../src/config.js';
import { isWhisperError } from '../../../src/errors.js';

const noFiles = (f: string): string => {
  throw new Error(`unexpected read of ${f}`);
};
const build = (raw: Record<string, unknown>, env: Record<string, string> = {}) =>
  buildConfig('certs', raw, { env, cwd: '/srv', readFile: noFiles });

function refused(raw: Record<string, unknown>): Error {
  try {
    build(raw);
  } catch (err) {
    expect(isWhisperError(err, 'CONFIG_INVALID')).toBe(true);
    return err as Error;
  }
  throw new Error('accepted');
}

describe('--challenge and --dns-provider none', () => {
  it('is dns-01 by default, dns-persist-01 by the flag or WHISPER_CHALLENGE', () => {
    expect(build({}).challenge).toBe('dns-01');
    expect(build({ challenge: 'dns-persist-01' }).challenge).toBe('dns-persist-01');
    expect(build({}, { WHISPER_CHALLENGE: 'dns-persist-01' }).challenge).toBe('dns-persist-01');
    expect(refused({ challenge: 'http-01' }).message).toContain('--challenge');
  });

  it('takes none only with dns-persist-01', () => {
    expect(build({ dnsProvider: 'none', challenge: 'dns-persist-01' }).dnsProvider).toBe('none');
    expect(refused({ dnsProvider: 'none' }).message).toContain('only with --challenge dns-persist-01');
  });
});
