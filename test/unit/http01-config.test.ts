import { describe, it, expect } from 'vitest';
import { buildConfig } from '../../src/config.js';
import { isWhisperError } from '../../src/errors.js';
import { wantsHttp01 } from '../../src/http01/run.js';

const noFiles = (f: string): string => {
  throw new Error(`unexpected read of ${f}`);
};
const build = (raw: Record<string, unknown>, env: Record<string, string> = {}) => buildConfig('certs', raw, { env, cwd: '/srv', home: '/home/u', readFile: noFiles });

function refused(raw: Record<string, unknown>): Error {
  try {
    build(raw);
  } catch (err) {
    expect(isWhisperError(err, 'CONFIG_INVALID')).toBe(true);
    return err as Error;
  }
  throw new Error('accepted');
}

describe('--http01-listen, --http01-webroot and --challenge http-01', () => {
  it('reads the responder address from the flag or WHISPER_HTTP01_LISTEN', () => {
    expect(build({ http01Listen: '127.0.0.1:8402' }).http01Listen).toEqual({ host: '127.0.0.1', port: 8402 });
    expect(build({}, { WHISPER_HTTP01_LISTEN: '[::1]:80' }).http01Listen).toEqual({ host: '::1', port: 80 });
    expect(build({}).http01Listen).toBeUndefined();
    expect(refused({ http01Listen: 'nope' }).message).toContain('--http01-listen');
  });

  it('resolves the webroot against the working folder and ~', () => {
    expect(build({ http01Webroot: 'www' }).http01Webroot).toBe('/srv/www');
    expect(build({}, { WHISPER_HTTP01_WEBROOT: '~/www' }).http01Webroot).toBe('/home/u/www');
  });

  it('takes http-01 with one of them, and --dns-provider none with it', () => {
    const c = build({ challenge: 'http-01', http01Listen: '127.0.0.1:0', dnsProvider: 'none' });
    expect(c.challenge).toBe('http-01');
    expect(c.dnsProvider).toBe('none');
    expect(wantsHttp01(c)).toBe(true);
    expect(build({ challenge: 'http-01', http01Webroot: '/var/www' }).http01Webroot).toBe('/var/www');
    expect(refused({ challenge: 'http-01' }).message).toContain('http-01 needs --http01-listen or --http01-webroot');
    expect(refused({ http01Listen: '127.0.0.1:80', http01Webroot: '/var/www' }).message).toContain('pick one');
    expect(wantsHttp01(build({}))).toBe(false);
  });
});
