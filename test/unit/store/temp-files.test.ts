import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createFolderStore } from '../../../src/store/folder.js';
import { nodeFs, writeFileAtomic } from '../../../src/store/atomic.js';
import { createLogger } from '../../../src/log.js';

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(tmpdir(), 'whisper-tmpfiles-'));
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

/** JSON log lines written by a logger. */
function capture(): { lines: () => Array<Record<string, unknown>>; destination: Writable } {
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      raw.push(chunk.toString());
      cb();
    },
  });
  const lines = () =>
    raw
      .join('')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { lines, destination };
}

const touch = (file: string) => fsp.writeFile(file, 'x');
const HEX = '0123456789ab';

describe('folder store: temporary files of a killed run', () => {
  it('removes our temporary files, keeps every other file, and logs the count once', async () => {
    const ours = [
      `.www.example.com.pem.${HEX}.tmp`,
      `.multi-hosts.example.com.pem.ffffffffffff.tmp`,
      `..acme.${HEX}.tmp`,
      `..acme.json.${HEX}.tmp`,
      `..whisper-state.json.${HEX}.tmp`,
      `..whisper-challenges.json.${HEX}.tmp`,
      `..whisper.lock.${HEX}.tmp`, // the folder lock's heartbeat, or its creation
    ];
    const foreign = [
      '.foo.tmp',
      'www.example.com.pem',
      `.www.example.com.pem.tmp`,
      `.www.example.com.pem.0123456789AB.tmp`, // upper case: not what we write
      `.www.example.com.pem.0123456789a.tmp`, // 11 digits
      `.www.example.com.pem.${HEX}.tmp.bak`,
      `.notes.txt.${HEX}.tmp`, // not a file we write
      `.WWW.example.com.pem.${HEX}.tmp`, // not a certificate id
      `www.example.com.pem.${HEX}.tmp`, // no leading dot
    ];
    for (const name of [...ours, ...foreign]) await touch(path.join(dir, name));
    await fsp.mkdir(path.join(dir, `.dir.example.com.pem.${HEX}.tmp`)); // a folder, not our file
    const { lines, destination } = capture();

    const removed = await createFolderStore(dir, { log: createLogger({ destination }) }).removeTempFiles();

    expect(removed).toBe(ours.length);
    expect((await fsp.readdir(dir)).sort()).toEqual([...foreign, `.dir.example.com.pem.${HEX}.tmp`].sort());
    const info = lines().filter((l) => l.level === 30);
    expect(info).toHaveLength(1);
    expect(info[0]).toMatchObject({ count: ours.length, folder: dir });
  });

  it('removes what writeFileAtomic leaves behind when the process dies before the rename', async () => {
    const target = path.join(dir, 'www.example.com.pem');
    // A rename that never happens and a cleanup that cannot run: what `kill -9` between the two leaves.
    const killed = { ...nodeFs, rename: () => Promise.reject(new Error('killed')), unlink: () => Promise.resolve() };
    await writeFileAtomic(target, 'data', { fs: killed }).catch(() => undefined);
    expect(await fsp.readdir(dir)).toHaveLength(1);
    expect(await createFolderStore(dir).removeTempFiles()).toBe(1);
    expect(await fsp.readdir(dir)).toEqual([]);
  });

  it('cleans the formats folder too: .p12 files and the certbot sub-folders', async () => {
    const formats = path.join(dir, 'formats');
    const certbot = path.join(formats, 'www.example.com');
    await fsp.mkdir(certbot, { recursive: true });
    await touch(path.join(formats, `.www.example.com.p12.${HEX}.tmp`));
    await touch(path.join(formats, '.other.tmp'));
    await touch(path.join(certbot, `.privkey.pem.${HEX}.tmp`));
    await touch(path.join(certbot, `.fullchain.pem.${HEX}.tmp`));
    await touch(path.join(certbot, `.mine.pem.${HEX}.tmp`));
    await touch(path.join(dir, `.www.example.com.pem.${HEX}.tmp`));

    const removed = await createFolderStore(dir, { formats: ['haproxy', 'certbot', 'pkcs12'], formatsDir: formats }).removeTempFiles();

    expect(removed).toBe(4);
    expect(await fsp.readdir(dir)).toEqual(['formats']);
    expect((await fsp.readdir(formats)).sort()).toEqual(['.other.tmp', 'www.example.com']);
    expect(await fsp.readdir(certbot)).toEqual([`.mine.pem.${HEX}.tmp`]);
  });

  it('finds nothing in a missing folder, and logs nothing when nothing was removed', async () => {
    const { lines, destination } = capture();
    const log = createLogger({ destination });
    expect(await createFolderStore(path.join(dir, 'missing'), { log }).removeTempFiles()).toBe(0);
    await touch(path.join(dir, '.foo.tmp'));
    expect(await createFolderStore(dir, { log }).removeTempFiles()).toBe(0);
    expect(lines()).toEqual([]);
  });

  it('warns about a temporary file it cannot remove, naming it, and goes on', async () => {
    const stuck = path.join(dir, `.a.example.com.pem.${HEX}.tmp`);
    await touch(stuck);
    await touch(path.join(dir, `.b.example.com.pem.${HEX}.tmp`));
    const fs = { ...nodeFs, unlink: (file: Parameters<typeof nodeFs.unlink>[0]) => (file === stuck ? Promise.reject(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' })) : nodeFs.unlink(file)) };
    const { lines, destination } = capture();
    expect(await createFolderStore(dir, { fs, log: createLogger({ destination }) }).removeTempFiles()).toBe(1);
    const warn = lines().find((l) => l.level === 40);
    expect(warn).toMatchObject({ file: stuck, code: 'STORE_WRITE' });
    expect(await fsp.readdir(dir)).toEqual([path.basename(stuck)]);
  });
});
