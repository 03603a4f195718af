import { describe, it, expect, afterEach } from 'vitest';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { JOURNAL_FILE, cleanOrphanChallenges, createChallengeJournal } from '../../../src/acme/journal.js';
import type { DnsProvider, TxtRecord } from '../../../src/dns/provider.js';
import { createLogger } from '../../../src/log.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'whisper-journal-'));
  dirs.push(dir);
  return dir;
}

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _e, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  const log = createLogger({ debug: true, destination });
  return { log, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

function dnsStub(fail?: Error): DnsProvider & { cleaned: TxtRecord[][] } {
  const cleaned: TxtRecord[][] = [];
  return {
    name: 'stub',
    cleaned,
    async present() {},
    async cleanUp(records) {
      cleaned.push([...records]);
      if (fail) throw fail;
    },
  };
}

const a = { fqdn: '_acme-challenge.a.example.com', value: 'secret-value-a' };
const b = { fqdn: '_acme-challenge.b.example.com', value: 'secret-value-b' };
const c = { fqdn: '_acme-challenge.a.example.com', value: 'secret-value-c' };

describe('challenge journal', () => {
  it('persists added records with mode 0600 and removes the file once empty', async () => {
    const dir = await tempDir();
    const journal = createChallengeJournal(dir);
    expect(await journal.pending()).toEqual([]);
    await journal.add([a, b]);
    const file = join(dir, JOURNAL_FILE);
    expect(journal.file).toBe(file);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ version: 1, records: [a, b] });

    // A new instance (the next start) sees them.
    expect(await createChallengeJournal(dir).pending()).toEqual([a, b]);

    await journal.add([a]);
    expect(await journal.pending()).toEqual([a, b]);
    await journal.remove([a]);
    expect(await journal.pending()).toEqual([b]);
    await journal.remove([b]);
    expect(await journal.pending()).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
    await journal.remove([b]);
  });

  it('keeps two values of the same name apart and applies concurrent changes one at a time', async () => {
    const dir = await tempDir();
    const journal = createChallengeJournal(dir);
    await Promise.all([journal.add([a]), journal.add([b]), journal.add([c])]);
    expect(await journal.pending()).toEqual([a, b, c]);
    await Promise.all([journal.remove([a]), journal.remove([c])]);
    expect(await createChallengeJournal(dir).pending()).toEqual([b]);
    // No temporary file is left behind.
    expect(await readdir(dir)).toEqual([JOURNAL_FILE]);
  });

  it('ignores a journal that does not parse, with a warning, and overwrites it on the next change', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, JOURNAL_FILE), '{"version":1,"records":[{"fqdn":3}]}');
    const cap = capture();
    const journal = createChallengeJournal(dir, { log: cap.log });
    expect(await journal.pending()).toEqual([]);
    expect(cap.parsed().some((l) => l.code === 'STORE_CORRUPT' && l.level === 40)).toBe(true);
    await journal.add([b]);
    expect(JSON.parse(await readFile(join(dir, JOURNAL_FILE), 'utf8'))).toEqual({ version: 1, records: [b] });
  });
});

describe('cleanOrphanChallenges', () => {
  it('removes the records of an earlier run, logs how many without their values, and clears the journal', async () => {
    const dir = await tempDir();
    await createChallengeJournal(dir).add([a, b]);
    const dns = dnsStub();
    const cap = capture();
    const journal = createChallengeJournal(dir);
    expect(await cleanOrphanChallenges(journal, dns, cap.log)).toBe(2);
    expect(dns.cleaned).toEqual([[a, b]]);
    expect(await journal.pending()).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
    const done = cap.parsed().find((l) => l.msg === 'challenge TXT records of an earlier run removed');
    expect(done?.count).toBe(2);
    expect(cap.lines.join('')).not.toContain('secret-value');
  });

  it('does nothing when the journal is empty', async () => {
    const dns = dnsStub();
    expect(await cleanOrphanChallenges(createChallengeJournal(await tempDir()), dns, capture().log)).toBe(0);
    expect(dns.cleaned).toEqual([]);
  });

  it('never throws: a failure is logged and the records stay for the next start', async () => {
    const dir = await tempDir();
    await createChallengeJournal(dir).add([a]);
    const cap = capture();
    const dns = dnsStub(new Error('route53 down'));
    expect(await cleanOrphanChallenges(createChallengeJournal(dir), dns, cap.log)).toBe(1);
    const warn = cap.parsed().find((l) => l.level === 40);
    expect(warn?.err).toBe('route53 down');
    expect(await createChallengeJournal(dir).pending()).toEqual([a]);

    const ok = dnsStub();
    expect(await cleanOrphanChallenges(createChallengeJournal(dir), ok, cap.log)).toBe(1);
    expect(ok.cleaned).toEqual([[a]]);
    expect(await createChallengeJournal(dir).pending()).toEqual([]);
  });
});
