import { describe, it, expect } from 'vitest';
import { formatListen, parseListen } from '../../../src/http/address.js';
import { buildConfig } from '../../../src/config.js';

describe('parseListen', () => {
  it('reads host:port and [v6]:port', () => {
    expect(parseListen('127.0.0.1:9400')).toEqual({ host: '127.0.0.1', port: 9400 });
    expect(parseListen('localhost:0')).toEqual({ host: 'localhost', port: 0 });
    expect(parseListen('[::1]:9400')).toEqual({ host: '::1', port: 9400 });
    expect(formatListen({ host: '::1', port: 9400 })).toBe('[::1]:9400');
    expect(formatListen({ host: '0.0.0.0', port: 1 })).toBe('0.0.0.0:1');
  });

  it('refuses what is not host:port, naming --listen', () => {
    for (const bad of ['9400', '127.0.0.1', '127.0.0.1:99999', 'a b:1', ':9400', 'http://x:1']) {
      expect(() => parseListen(bad)).toThrow(/^--listen: expected host:port/);
    }
  });
});

describe('--listen in the configuration', () => {
  it('is off by default and read from the flag or WHISPER_LISTEN', () => {
    expect(buildConfig('certs', {}, { env: {}, cwd: '/srv' }).listen).toBeUndefined();
    expect(buildConfig('certs', { listen: '127.0.0.1:9400' }, { env: {}, cwd: '/srv' }).listen).toEqual({ host: '127.0.0.1', port: 9400 });
    expect(buildConfig('certs', {}, { env: { WHISPER_LISTEN: '0.0.0.0:9401' }, cwd: '/srv' }).listen).toEqual({ host: '0.0.0.0', port: 9401 });
    expect(() => buildConfig('certs', { listen: 'nope' }, { env: {}, cwd: '/srv' })).toThrow(/--listen/);
  });
});
