import { describe, it, expect } from 'vitest';
import { formatConsulAddress, parseConsulAddress } from '../../../src/consul/address.js';
import { blockingTimeoutMs, parseConsulDuration } from '../../../src/consul/duration.js';

describe('parseConsulAddress', () => {
  it.each([
    ['consul', { host: 'consul', port: 8500, secure: false }],
    ['10.0.0.5', { host: '10.0.0.5', port: 8500, secure: false }],
    ['consul.service.dc1:8501', { host: 'consul.service.dc1', port: 8501, secure: false }],
    ['[::1]:8600', { host: '::1', port: 8600, secure: false }],
    ['[fd00::5]', { host: 'fd00::5', port: 8500, secure: false }],
    ['fd00::5', { host: 'fd00::5', port: 8500, secure: false }],
    ['http://consul:9500', { host: 'consul', port: 9500, secure: false }],
    ['https://consul', { host: 'consul', port: 443, secure: true }],
    ['https://[::1]:8501/', { host: '::1', port: 8501, secure: true }],
    ['HTTP://Consul:8500', { host: 'consul', port: 8500, secure: false }],
  ])('reads %s', (text, expected) => {
    expect(parseConsulAddress(text)).toEqual(expected);
  });

  it('takes secure from the option unless a URL scheme says otherwise', () => {
    expect(parseConsulAddress('consul:8501', true).secure).toBe(true);
    expect(parseConsulAddress('http://consul:8501', true).secure).toBe(false);
  });

  it.each(['', 'consul:http', 'consul:70000', 'ftp://consul', 'http://consul:8500/v1', 'con sul', 'a:b:c'])('rejects %j', (text) => {
    expect(() => parseConsulAddress(text)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('formats IPv6 in brackets', () => {
    expect(formatConsulAddress({ host: '::1', port: 8500, secure: false })).toBe('[::1]:8500');
    expect(formatConsulAddress({ host: 'consul', port: 8500, secure: false })).toBe('consul:8500');
  });
});

describe('Consul durations', () => {
  it('parses units, a bare number being seconds', () => {
    expect(parseConsulDuration('5m')).toBe(300_000);
    expect(parseConsulDuration('30s')).toBe(30_000);
    expect(parseConsulDuration('250ms')).toBe(250);
    expect(parseConsulDuration('1h')).toBe(3_600_000);
    expect(parseConsulDuration('2')).toBe(2000);
    expect(() => parseConsulDuration('forever')).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('allows a blocking query its wait, Consul\'s wait/16 spread and a margin; waits are capped at 10 minutes', () => {
    expect(blockingTimeoutMs('5m', 10_000)).toBe(300_000 + 18_750 + 10_000);
    expect(blockingTimeoutMs('1h', 0)).toBe(600_000 + 37_500);
  });
});
