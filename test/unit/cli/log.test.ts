import { describe, it, expect } from 'vitest';
import { createLogger } from '../../../src/log.js';
import { prettyLine } from '../../../src/log-pretty.js';

describe('logs', () => {
  it('writes JSON lines and redacts secret-looking fields', () => {
    const lines: string[] = [];
    const log = createLogger({ debug: true, destination: { write: (l: string) => void lines.push(l) } });
    log.child({ component: 'acme' }).debug({ cert: 'a.test', challenge: { keyAuthorization: 'SECRET' } }, 'step');
    const o = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(o).toMatchObject({ level: 20, component: 'acme', cert: 'a.test', msg: 'step' });
    expect(lines[0]).not.toContain('SECRET');
  });

  it('formats a line for a terminal', () => {
    const line = prettyLine(JSON.stringify({ level: 30, time: Date.UTC(2026, 0, 1, 12, 0, 1), component: 'queue', cert: 'a.test', msg: 'certificate issued', durationMs: 12 }));
    expect(line).toBe('12:00:01 INFO  [queue] a.test: certificate issued durationMs=12\n');
    expect(prettyLine('not json')).toBe('not json');
  });
});
