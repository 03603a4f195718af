import { posix } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import type { SftpSession } from '../../src/targets/sftp-session.js';

/** One node of the fake remote file system. */
interface Node {
  dir: boolean;
  data: Buffer;
  mode: number;
  uid: number;
  gid: number;
}

type Cb = (err?: Error & { code?: number }, value?: unknown) => void;

function status(code: number, message: string): Error & { code: number } {
  return Object.assign(new Error(message), { code });
}

/**
 * An in-memory SFTP server as ssh2's `SFTPWrapper` shows it, for unit tests: plain `rename` refuses to overwrite
 * (as OpenSSH's does), `posix-rename@openssh.com` is there unless `posixRename` is false. `ops` records the calls.
 */
export function fakeSftp(options: { posixRename?: boolean; uid?: number } = {}) {
  const nodes = new Map<string, Node>([['/', { dir: true, data: Buffer.alloc(0), mode: 0o755, uid: 0, gid: 0 }]]);
  const handles = new Map<string, string>();
  const ops: string[] = [];
  const owner = options.uid ?? 1000;
  const get = (p: string) => nodes.get(posix.resolve('/', p));
  const stats = (n: Node) => ({
    mode: (n.dir ? 0o040000 : 0o100000) | n.mode,
    uid: n.uid,
    gid: n.gid,
    size: n.data.length,
    isDirectory: () => n.dir,
    isFile: () => !n.dir,
  });
  const missing = (p: string) => status(2, `No such file: ${p}`);
  const parentOk = (p: string) => get(posix.dirname(posix.resolve('/', p)))?.dir === true;
  const renameNow = (from: string, to: string, overwrite: boolean, cb: Cb) => {
    const n = get(from);
    if (!n) return cb(missing(from));
    if (get(to) && !overwrite) return cb(status(4, 'Failure'));
    nodes.delete(posix.resolve('/', from));
    nodes.set(posix.resolve('/', to), n);
    cb();
  };
  const sftp = {
    stat: (p: string, cb: Cb) => (get(p) ? cb(undefined, stats(get(p)!)) : cb(missing(p))),
    readFile: (p: string, cb: Cb) => (get(p) && !get(p)!.dir ? cb(undefined, Buffer.from(get(p)!.data)) : cb(missing(p))),
    readdir: (p: string, cb: Cb) => {
      const dir = posix.resolve('/', p);
      const names = [...nodes.keys()].filter((k) => k !== dir && posix.dirname(k) === dir).map((k) => ({ filename: posix.basename(k) }));
      cb(undefined, names);
    },
    mkdir: (p: string, attrs: { mode: number }, cb: Cb) => {
      ops.push(`mkdir ${p}`);
      if (get(p)) return cb(status(4, 'Failure'));
      if (!parentOk(p)) return cb(missing(p));
      nodes.set(posix.resolve('/', p), { dir: true, data: Buffer.alloc(0), mode: attrs.mode, uid: owner, gid: owner });
      cb();
    },
    open: (p: string, flags: string, attrs: { mode: number }, cb: Cb) => {
      if (flags !== 'wx') return cb(status(8, 'unsupported'));
      if (get(p)) return cb(status(4, 'Failure'));
      if (!parentOk(p)) return cb(missing(p));
      nodes.set(posix.resolve('/', p), { dir: false, data: Buffer.alloc(0), mode: attrs.mode, uid: owner, gid: owner });
      const h = `h${handles.size}`;
      handles.set(h, posix.resolve('/', p));
      cb(undefined, Buffer.from(h));
    },
    write: (h: Buffer, data: Buffer, off: number, len: number, _pos: number, cb: Cb) => {
      const n = nodes.get(handles.get(h.toString()) ?? '');
      if (!n) return cb(status(4, 'bad handle'));
      n.data = Buffer.from(data.subarray(off, off + len));
      cb();
    },
    ext_openssh_fsync: (_h: Buffer, cb: Cb) => cb(),
    close: (h: Buffer, cb: Cb) => (handles.delete(h.toString()), cb()),
    chown: (p: string, uid: number, gid: number, cb: Cb) => {
      const n = get(p);
      if (!n) return cb(missing(p));
      if (owner !== 0 && (uid !== n.uid || gid !== n.gid)) return cb(status(3, 'Permission denied'));
      Object.assign(n, { uid, gid });
      cb();
    },
    chmod: (p: string, mode: number, cb: Cb) => (get(p) ? (Object.assign(get(p)!, { mode }), cb()) : cb(missing(p))),
    ext_openssh_rename: (from: string, to: string, cb: Cb) => {
      if (options.posixRename === false) throw new Error('Server does not support this extended request');
      ops.push(`posix-rename ${posix.basename(from)} ${posix.basename(to)}`);
      renameNow(from, to, true, cb);
    },
    rename: (from: string, to: string, cb: Cb) => {
      ops.push(`rename ${posix.basename(from)} ${posix.basename(to)}`);
      renameNow(from, to, false, cb);
    },
    unlink: (p: string, cb: Cb) => {
      ops.push(`unlink ${posix.basename(p)}`);
      if (!get(p)) return cb(missing(p));
      nodes.delete(posix.resolve('/', p));
      cb();
    },
  };
  const session: SftpSession = {
    sftp: sftp as unknown as SFTPWrapper,
    call: <T>(run: (cb: (err: Error | null | undefined, value?: T) => void) => void) =>
      new Promise<T>((resolve, reject) => run((err, value) => (err ? reject(err) : resolve(value as T)))),
    close: () => undefined,
  };
  const file = (p: string) => {
    const n = get(p);
    return n && !n.dir ? { text: n.data.toString(), mode: n.mode, uid: n.uid, gid: n.gid } : undefined;
  };
  const list = (p: string) => [...nodes.keys()].filter((k) => posix.dirname(k) === posix.resolve('/', p) && k !== '/').map((k) => posix.basename(k)).sort();
  const put = (p: string, text: string) =>
    nodes.set(posix.resolve('/', p), { dir: false, data: Buffer.from(text), mode: 0o644, uid: owner, gid: owner });
  return { session, ops, file, list, put, isDir: (p: string) => get(p)?.dir === true };
}
