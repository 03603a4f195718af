import { describe, it, expect, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** Runs `npx tsx bench/run.ts --tiny --out <file>` and resolves with its exit code and output. */
function runBench(out: string): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn('npx', ['tsx', 'bench/run.ts', '--tiny', '--out', out], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('exit', (code) => done({ code, output }));
  });
}

describe('benchmarks', () => {
  it('run at a tiny size and write every measure between the markers, keeping the rest of the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'whisper-bench-test-'));
    dirs.push(dir);
    const out = join(dir, 'README.md');
    await writeFile(out, '# kept\n\n<!-- results:start -->\nold\n<!-- results:end -->\ntail kept\n');
    const { code, output } = await runBench(out);
    expect(code, output.slice(-3000)).toBe(0);
    const doc = await readFile(out, 'utf8');
    expect(doc.startsWith('# kept\n')).toBe(true);
    expect(doc.trimEnd().endsWith('<!-- results:end -->\ntail kept')).toBe(true);
    expect(doc).not.toContain('\nold\n');
    for (const heading of ['### 1. Single certificate latency', '### 2. Throughput', '### 3. Reaction latency', '### 4. Scale', '### 5. Idle']) {
      expect(doc).toContain(heading);
    }
    // whisper-ts figures are real numbers on both DNS paths; the start-up after the restart ordered nothing.
    expect(doc).toMatch(/\| whisper-ts, rfc2136 [^|]*\| 2 \| \d+ ms \|/);
    expect(doc).toMatch(/\| whisper-ts, route53 emulator \| 2 \| \d+ ms \|/);
    expect(doc).toMatch(/registrations: median \d+(\.\d)? ms/);
    expect(doc).toMatch(/peak RSS \(VmHWM\) after issuing \| \d+ MB/);
    expect(doc).toMatch(/\(orders: 0\)/);
    expect(doc).toMatch(/to the CA: 0\./);
  }, 110_000);
});
