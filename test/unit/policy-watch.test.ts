import { EventEmitter } from 'node:events';
import { mkdtemp, rename, rm, symlink, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../src/log.js';
import type { PolicyFile } from '../../src/policy/file-types.js';
import { watchPolicyFile } from '../../src/policy/watch.js';
import type { WhisperError } from '../../src/errors.js';
import type { Timers } from '../../src/time.js';

/** Timers run by hand: `fire()` runs every pending callback once. */
function manualTimers(): Timers & { fire(): void; pending(): number } {
  const queue = new Map<number, () => void>();
  let next = 1;
  return {
    setTimeout(fn) {
      queue.set(next, fn);
      return next++;
    },
    clearTimeout(handle) {
      queue.delete(handle as number);
    },
    fire() {
      const due = [...queue];
      queue.clear();
      for (const [, fn] of due) fn();
    },
    pending: () => queue.size,
  };
}

const V1 = 'defaults:\n  key_type: rsa2048\n';
const V2 = 'defaults:\n  key_type: rsa4096\n';
const BAD = 'defaults:\n  key_type: dsa\n';

describe('watchPolicyFile', () => {
  let dir: string;
  let stop: () => void = () => {};
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'whisper-policy-'));
  });
  afterEach(async () => {
    stop();
    await rm(dir, { recursive: true, force: true });
  });

  function start(file: string, timers?: Timers, signals = new EventEmitter()) {
    const changes: PolicyFile[] = [];
    const errors: WhisperError[] = [];
    stop = watchPolicyFile(file, {
      onChange: (f) => changes.push(f),
      onError: (e) => errors.push(e),
      log: silentLogger(),
      signals,
      debounceMs: 20,
      pollMs: timers ? 1000 : 0,
      ...(timers ? { timers, watchFolder: () => ({ close() {}, on() { return this as never; } }) } : {}),
    });
    return { changes, errors, signals };
  }

  it('reloads a file replaced by rename (an editor), and keeps the old one when the new one is invalid', async () => {
    const file = join(dir, 'whisper.yaml');
    await writeFile(file, V1);
    const { changes, errors } = start(file);
    await new Promise((r) => setTimeout(r, 50));
    await writeFile(join(dir, '.whisper.yaml.swp'), V2);
    await rename(join(dir, '.whisper.yaml.swp'), file);
    await vi.waitFor(() => expect(changes.map((c) => c.defaults.keyType)).toEqual(['rsa4096']), { timeout: 3000 });
    await writeFile(file, BAD);
    await vi.waitFor(() => expect(errors).toHaveLength(1), { timeout: 3000 });
    expect(errors[0]!.code).toBe('CONFIG_INVALID');
    expect(errors[0]!.message).toMatch(/whisper\.yaml:2: defaults\.key_type: /);
    expect(changes).toHaveLength(1);
  });

  it('follows a Kubernetes ConfigMap: the ..data symlink swapped to a new folder', async () => {
    await mkdir(join(dir, '..v1'));
    await writeFile(join(dir, '..v1', 'whisper.yaml'), V1);
    await symlink('..v1', join(dir, '..data'));
    await symlink('..data/whisper.yaml', join(dir, 'whisper.yaml'));
    const { changes } = start(join(dir, 'whisper.yaml'));
    await new Promise((r) => setTimeout(r, 50));
    await mkdir(join(dir, '..v2'));
    await writeFile(join(dir, '..v2', 'whisper.yaml'), V2);
    await symlink('..v2', join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    await vi.waitFor(() => expect(changes.map((c) => c.defaults.keyType)).toEqual(['rsa4096']), { timeout: 3000 });
  });

  it('acts on content, not events: polls that find the same content change nothing', async () => {
    const file = join(dir, 'whisper.yaml');
    await writeFile(file, V1);
    const timers = manualTimers();
    const { changes, errors } = start(file, timers);
    await vi.waitFor(() => expect(timers.pending()).toBe(1));
    timers.fire();
    await new Promise((r) => setTimeout(r, 20));
    expect(changes).toEqual([]);
    await writeFile(file, V2);
    timers.fire();
    await vi.waitFor(() => expect(changes).toHaveLength(1));
    await writeFile(file, BAD);
    timers.fire();
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    timers.fire();
    await new Promise((r) => setTimeout(r, 20));
    expect(errors).toHaveLength(1);
  });

  it('reloads on SIGHUP even when the content is the same, and stops listening when stopped', async () => {
    const file = join(dir, 'whisper.yaml');
    await writeFile(file, V1);
    const timers = manualTimers();
    const { changes, signals } = start(file, timers);
    await vi.waitFor(() => expect(timers.pending()).toBe(1));
    signals.emit('SIGHUP');
    await vi.waitFor(() => expect(changes).toHaveLength(1));
    expect(changes[0]!.defaults.keyType).toBe('rsa2048');
    stop();
    expect(signals.listenerCount('SIGHUP')).toBe(0);
    expect(timers.pending()).toBe(0);
  });

  it('reports a file that went away once, and keeps the old one', async () => {
    const file = join(dir, 'whisper.yaml');
    await writeFile(file, V1);
    const timers = manualTimers();
    const { errors } = start(file, timers);
    await vi.waitFor(() => expect(timers.pending()).toBe(1));
    await rm(file);
    timers.fire();
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    timers.fire();
    await new Promise((r) => setTimeout(r, 20));
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/cannot read the config file.*the previous one stays in force/);
  });
});
