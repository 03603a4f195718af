import { describe, it, expect, afterEach } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createChallengeCleanup } from '../../../src/acme/cleanup.js';
import { createAcmeIssuer } from '../../../src/acme/issuer.js';
import { createChallengeJournal } from '../../../src/acme/journal.js';
import { batchDnsProvider } from '../../../src/dns/batch.js';
import type { DnsProvider, TxtRecord } from '../../../src/dns/provider.js';
import { createLogger } from '../../../src/log.js';
import type { Timers } from '../../../src/time.js';
import type { WantedCert } from '../../../src/plan/types.js';
import { makeKey } from '../store/x509-fixture.js';
import { fakeCa, memoryStore } from './fake-ca.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function journalIn() {
  const dir = await mkdtemp(join(tmpdir(), 'whisper-cleanup-'));
  dirs.push(dir);
  return { dir, journal: createChallengeJournal(dir) };
}

function manualTimers() {
  const pending = new Map<number, { fn: () => void; ms: number }>();
  let next = 0;
  const timers: Timers = {
    setTimeout(fn, ms) {
      pending.set(++next, { fn, ms });
      return next;
    },
    clearTimeout(handle) {
      pending.delete(handle as number);
    },
  };
  return {
    timers,
    delays: () => [...pending.values()].map((t) => t.ms),
    fire(ms: number) {
      for (const [id, t] of pending) {
        if (t.ms !== ms) continue;
        pending.delete(id);
        t.fn();
      }
    },
  };
}

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _e, cb) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      cb();
    },
  });
  return { log: createLogger({ debug: true, destination }), lines };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A provider whose clean-ups stay open until released (or aborted). */
function blockingDns(options: { batchKey?: boolean } = {}) {
  const cleanUps: Array<{ records: TxtRecord[]; signal: AbortSignal | undefined; release(): void }> = [];
  const presents: TxtRecord[][] = [];
  const dns: DnsProvider = {
    name: 'blocking',
    async present(records) {
      presents.push([...records]);
    },
    cleanUp(records, signal) {
      return new Promise<void>((resolve, reject) => {
        cleanUps.push({ records: [...records], signal, release: resolve });
        signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      });
    },
    ...(options.batchKey ? { batchKey: async () => 'one zone' } : {}),
  };
  return { dns, cleanUps, presents };
}

const r1 = { fqdn: '_acme-challenge.a.example.com', value: 'value-a' };
const r2 = { fqdn: '_acme-challenge.b.example.com', value: 'value-b' };

describe('challenge clean-up', () => {
  it('in the background: remove returns at once, the journal forgets the records once they are gone', async () => {
    const { dir, journal } = await journalIn();
    await journal.add([r1]);
    const b = blockingDns();
    const cap = capture();
    const cleanup = createChallengeCleanup({ dns: b.dns, journal, log: cap.log, background: true, timers: manualTimers().timers });
    await cleanup.remove('a.example.com', [r1]);
    expect(b.cleanUps.map((c) => c.records)).toEqual([[r1]]);
    expect(await createChallengeJournal(dir).pending()).toEqual([r1]);
    b.cleanUps[0]!.release();
    await cleanup.flush();
    expect(await createChallengeJournal(dir).pending()).toEqual([]);
    expect(cap.lines.some((l) => l.step === 'dns.cleanUp' && l.certId === 'a.example.com')).toBe(true);
  });

  it('awaited when not in the background (the issuer on its own)', async () => {
    const b = blockingDns();
    const cleanup = createChallengeCleanup({ dns: b.dns, log: capture().log, timers: manualTimers().timers });
    let done = false;
    const removal = cleanup.remove('x', [r1]).then(() => (done = true));
    await settle();
    expect(done).toBe(false);
    b.cleanUps[0]!.release();
    await removal;
    expect(done).toBe(true);
  });

  it('a failed or timed-out clean-up is logged and its records stay journaled for the next start', async () => {
    const { dir, journal } = await journalIn();
    await journal.add([r1, r2]);
    const b = blockingDns();
    const clock = manualTimers();
    const cap = capture();
    const cleanup = createChallengeCleanup({ dns: b.dns, journal, log: cap.log, background: true, timeoutMs: 5000, timers: clock.timers });
    await cleanup.remove('a', [r1]);
    await cleanup.remove('b', [r2]);
    b.cleanUps[1]!.release();
    clock.fire(5000);
    await cleanup.flush();
    expect(await createChallengeJournal(dir).pending()).toEqual([r1]);
    expect(cap.lines.filter((l) => l.msg === 'could not remove ACME challenge TXT records').map((l) => l.certId)).toEqual(['a']);
    expect(JSON.stringify(cap.lines)).not.toContain('value-a');
  });

  it('flush waits at most its bound, then aborts the clean-ups left; later ones run again', async () => {
    const { dir, journal } = await journalIn();
    await journal.add([r1]);
    const b = blockingDns();
    const clock = manualTimers();
    const cap = capture();
    const cleanup = createChallengeCleanup({ dns: b.dns, journal, log: cap.log, background: true, timers: clock.timers });
    await cleanup.remove('a', [r1]);
    let flushed = false;
    const flushing = cleanup.flush(3000).then(() => (flushed = true));
    await settle();
    expect(flushed).toBe(false);
    expect(clock.delays()).toContain(3000);
    clock.fire(3000);
    await flushing;
    expect(b.cleanUps[0]!.signal?.aborted).toBe(true);
    expect(await createChallengeJournal(dir).pending()).toEqual([r1]);
    expect(cap.lines.some((l) => l.level === 40 && String(l.msg).includes('stay journaled'))).toBe(true);

    await cleanup.remove('b', [r2]);
    expect(b.cleanUps[1]!.signal?.aborted).toBe(false);
    b.cleanUps[1]!.release();
    await cleanup.flush();
  });

  it('with the issuer: the order ends once the certificate is there; its records go with the next clean-up batch', async () => {
    const { dir, journal } = await journalIn();
    const b = blockingDns({ batchKey: true });
    const clock = manualTimers();
    const dns = batchDnsProvider(b.dns, { timers: clock.timers, windowMs: 30, cleanUpWindowMs: 30 });
    const cleanup = createChallengeCleanup({ dns, journal, log: capture().log, background: true, timers: clock.timers });
    const issuer = createAcmeIssuer({
      directoryUrl: 'https://ca.test/directory',
      store: memoryStore({ key: makeKey().pem, urls: { 'https://ca.test/directory': 'https://ca.test/acct/1' } }).store,
      dns,
      journal,
      cleanup,
      propagate: async () => undefined,
      clients: fakeCa().factory,
      sleep: async () => undefined,
      pollIntervalMs: 100,
      pollTimeoutMs: 5000,
    });
    const cert: WantedCert = { id: 'www.example.com', kind: 'single', zone: 'example.com', names: ['www.example.com'], services: ['web'] };
    const issuing = issuer.issue(cert);
    // The present gathers for one window.
    await settle();
    while (b.presents.length === 0) {
      clock.fire(30);
      await settle();
    }
    const bundle = await issuing;
    expect(bundle.cert).toContain('BEGIN CERTIFICATE');
    // The clean-up has not even been sent yet (its window is open), and the order is over all the same.
    expect(b.cleanUps).toEqual([]);
    expect(await createChallengeJournal(dir).pending()).toHaveLength(1);
    clock.fire(30);
    await settle();
    expect(b.cleanUps).toHaveLength(1);
    b.cleanUps[0]!.release();
    await cleanup.flush();
    expect(await createChallengeJournal(dir).pending()).toEqual([]);
  });
});
