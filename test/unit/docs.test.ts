import { describe, it, expect } from 'vitest';
import { readFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { main } from '../../src/cli.js';
import { OPTIONS } from '../../src/options.js';
import { optionsDoc } from '../../scripts/gen-options-doc.js';

const root = resolve(import.meta.dirname, '../..');
const regenerate = 'regenerate it: npx tsx scripts/gen-options-doc.ts > docs/options.md';

async function helpText(): Promise<string> {
  let out = '';
  const code = await main(['--help'], { stdout: (t) => (out += t), stderr: (t) => (out += t) });
  expect(code).toBe(0);
  return out;
}

describe('docs/options.md', () => {
  it('is the output of scripts/gen-options-doc.ts (' + regenerate + ')', async () => {
    const committed = await readFile(join(root, 'docs/options.md'), 'utf8');
    expect(committed, regenerate).toBe(optionsDoc());
  });

  it('lists every flag `whisper-ts --help` shows', async () => {
    const help = await helpText();
    const flags = [...help.matchAll(/^\s+(?:-\w, )?(--[a-z][\w-]*)/gm)].map((m) => m[1]!);
    expect(flags).toContain('--consul');
    expect(flags).toContain('--help');
    const doc = await readFile(join(root, 'docs/options.md'), 'utf8');
    const missing = flags.filter((f) => !new RegExp(`\`(?:-\\w, )?${f}[\` ]`).test(doc));
    expect(missing, regenerate).toEqual([]);
  });

  it('lists every environment variable and default of the option table', () => {
    const doc = optionsDoc();
    for (const o of OPTIONS) {
      for (const name of o.env) expect(doc).toContain(`\`${name}\``);
      if (o.default !== undefined) expect(doc).toContain(`\`${o.default.replace(/\|/g, '\\|')}\``);
    }
  });

  it('escapes table cells, so no row has more columns than the header', () => {
    const rows = optionsDoc().split('\n').filter((l) => l.startsWith('| `'));
    expect(rows.length).toBeGreaterThan(OPTIONS.length);
    for (const r of rows) expect(r.replace(/\\\|/g, '').split('|').length, r).toBe(6);
  });
});

describe('documentation links', () => {
  it('every relative link of README.md and docs/*.md names a file of the repository', async () => {
    const files = ['README.md', ...(await readdir(join(root, 'docs'))).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const broken: string[] = [];
    for (const file of files) {
      const text = await readFile(join(root, file), 'utf8');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!.split('#')[0]!;
        if (!target || /^[a-z]+:/i.test(target)) continue;
        if (!existsSync(resolve(root, dirname(file), target))) broken.push(`${file} -> ${m[1]}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
