import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One certificate store of the fake. */
export interface FakeStore {
  status: 'Used' | 'Unused' | 'Empty';
  serial?: string;
}

/**
 * A fake HAProxy runtime API on a unix socket: certificate stores, crt-lists, the one transaction, with HAProxy
 * 2.6's wordings (also its quirk: `set ssl cert` while another file's transaction is open updates that one). A
 * payload's serial is read from a `SERIAL=<hex>` line; a payload without a `PRIVATE KEY` block fails to commit.
 */
export async function fakeHaproxy(lists: Record<string, string[]>) {
  const stores = new Map<string, FakeStore>();
  const crtLists = new Map<string, Set<string>>();
  for (const [list, files] of Object.entries(lists)) {
    crtLists.set(list, new Set(files));
    for (const f of files) stores.set(f, { status: 'Used', serial: '01' });
  }
  let transaction: { file: string; serial?: string; key: boolean } | undefined;
  const commands: string[] = [];
  /** Answers to force, by command verb (`commit ssl cert`), used once each. */
  const faults = new Map<string, string>();

  const used = (f: string) => [...crtLists.values()].some((s) => s.has(f));
  const refresh = () => {
    for (const [f, s] of stores) if (s.status !== 'Empty') s.status = used(f) ? 'Used' : 'Unused';
  };
  const busy = (f: string, what: string) =>
    transaction && transaction.file !== f ? `The ongoing transaction is about '${transaction.file}' but you are trying to ${what} '${f}'\n\n` : undefined;

  function answer(text: string): string {
    const [line = '', ...payload] = text.split('\n');
    const words = line.trim().split(/\s+/);
    const verb = words.slice(0, 3).join(' ');
    commands.push(line.trim().replace(/ <<$/, ''));
    const forced = faults.get(verb);
    if (forced !== undefined) {
      faults.delete(verb);
      return forced;
    }
    const [a = '', b = ''] = words.slice(3);
    switch (verb) {
      case 'show ssl cert': {
        if (a.startsWith('*')) return "Can't display the certificate: Not found or the certificate is a bundle!\n\n";
        if (a) {
          const s = stores.get(a);
          if (!s) return "Can't display the certificate: Not found or the certificate is a bundle!\n\n";
          return `Filename: ${a}\nStatus: ${s.status}\n${s.serial ? `Serial: ${s.serial}\n` : ''}OCSP Response Key: \n\n`;
        }
        const tx = transaction ? `# transaction\n*${transaction.file}\n` : '';
        return `${tx}# filename\n${[...stores.keys()].map((f) => `${f}\n`).join('')}\n`;
      }
      case 'show ssl crt-list': {
        if (!a) return `${[...crtLists.keys()].join('\n')}\n\n`;
        const l = crtLists.get(a);
        return l ? `# ${a}\n${[...l].map((f) => `${f}\n`).join('')}\n` : "didn't find the specified filename\n\n";
      }
      case 'new ssl cert':
        if (stores.has(a)) return `Certificate '${a}' already exists!\n\n`;
        stores.set(a, { status: 'Empty' });
        return `New empty certificate store '${a}'!\n\n`;
      case 'set ssl cert': {
        const body = payload.join('\n');
        const serial = /SERIAL=([0-9A-F]+)/.exec(body)?.[1];
        if (!serial) return `unable to load certificate from file '${a}'.\nCan't load the payload\nCan't update ${a}!\n\n`;
        if (transaction) {
          Object.assign(transaction, { serial, key: /PRIVATE KEY/.test(body) });
          return `Transaction updated for certificate ${transaction.file}!\n\n`;
        }
        if (!stores.has(a)) return `Can't replace a certificate which is not referenced by the configuration!\nCan't update ${a}!\n\n`;
        transaction = { file: a, serial, key: /PRIVATE KEY/.test(body) };
        return `Transaction created for certificate ${a}!\n\n`;
      }
      case 'commit ssl cert': {
        if (!transaction) return `No ongoing transaction! !\nCan't commit ${a}!\n\n`;
        const other = busy(a, 'commit');
        if (other) return other;
        if (!transaction.key) return `The transaction must contain at least a certificate and a private key!\nCan't commit ${a}!\n\n`;
        const s = stores.get(a)!;
        s.serial = transaction.serial;
        s.status = 'Unused';
        transaction = undefined;
        refresh();
        return `Committing ${a}..\nSuccess!\n\n`;
      }
      case 'abort ssl cert': {
        if (!transaction) return 'No ongoing transaction!\n\n';
        const other = busy(a, 'abort a transaction for');
        if (other) return other;
        transaction = undefined;
        return `Transaction aborted for certificate '${a}'!\n\n`;
      }
      case 'add ssl crt-list': {
        const l = crtLists.get(a);
        if (!l) return `Can't edit the crt-list: crt-list '${a}' does not exist!\n\n`;
        if (l.has(b)) return "Can't edit the crt-list: file already exists in this directory!\n\n";
        l.add(b);
        refresh();
        return `Inserting certificate '${b}' in crt-list '${a}'..\nSuccess!\n\n`;
      }
      case 'del ssl crt-list': {
        const l = crtLists.get(a);
        if (!l?.has(b)) return `Can't delete the entry: certificate '${b}' does not exist!\n\n`;
        l.delete(b);
        refresh();
        return `Entry '${b}' deleted in crtlist '${a}'!\n\n`;
      }
      case 'del ssl cert':
        if (!stores.has(a)) return `Can't remove the certificate: certificate '${a}' doesn't exist!\n\n\n`;
        if (used(a)) return `Can't remove the certificate: certificate '${a}' in use, can't be deleted!\n\n\n`;
        stores.delete(a);
        return `Certificate '${a}' deleted!\n\n`;
      default:
        return 'Unknown command, but maybe one of the following ones is a better match:\n\n';
    }
  }

  const dir = await mkdtemp(join(tmpdir(), 'hx-fake-'));
  const path = join(dir, 'admin.sock');
  const server = createServer((sock) => {
    let text = '';
    sock.on('data', (d) => {
      text += d.toString('utf8');
      const complete = /<<\n/.test(text) ? text.endsWith('\n\n') : text.endsWith('\n');
      if (complete) sock.end(answer(text));
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(path, r));
  return {
    path,
    stores,
    crtLists,
    commands,
    faults,
    get transaction() {
      return transaction?.file;
    },
    openTransaction(file: string) {
      transaction = { file, key: true, serial: 'FF' };
    },
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
