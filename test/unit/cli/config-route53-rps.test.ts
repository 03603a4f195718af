import { describe, it, expect } from 'vitest';
import { buildConfig } from '../../../src/config.js';
import { isWhisperError } from '../../../src/errors.js';

const noFiles = (f: string): string => {
  throw new Error(`unexpected read of ${f}`);
};
const build = (raw: Record<string, unknown>, env: Record<string, string> = {}) =>
  buildConfig('certs', raw, { env, cwd: '/srv', readFile: noFiles });

describe('--route53-rps', () => {
  it('is 10 requests per second by default, set by the flag or WHISPER_ROUTE53_RPS', () => {
    expect(build({}).route53.requestsPerSecond).toBe(10);
    expect(build({ route53Rps: '5' }).route53.requestsPerSecond).toBe(5);
    expect(build({}, { WHISPER_ROUTE53_RPS: '3' }).route53.requestsPerSecond).toBe(3);
  });

  it('must be a whole number from 1 to 100', () => {
    for (const bad of ['0', '-1', '2.5', 'ten', '101']) {
      let err: unknown;
      try {
        build({ route53Rps: bad });
      } catch (e) {
        err = e;
      }
      expect(isWhisperError(err, 'CONFIG_INVALID'), bad).toBe(true);
      expect((err as Error).message).toContain('--route53-rps');
    }
  });
});
