import { mkdir, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { join } from 'node:path';
import { binaries } from './paths.js';
import { freeDnsPort } from './ports.js';
import { startProcess, type ServerProcess } from './proc.js';

/** A running BIND 9 server, authoritative for one zone that accepts TSIG-signed dynamic updates. */
export interface Bind {
  readonly process: ServerProcess;
  readonly addr: string;
  readonly zone: string;
  readonly tsig: { readonly name: string; readonly algorithm: string; readonly secret: string };
  stop(graceMs?: number): Promise<void>;
}

/** Starts `named` in the foreground on 127.0.0.1 with a fresh zone and TSIG key. */
export async function startBind(dir: string, zone = 'bind.whisper.test'): Promise<Bind> {
  const home = join(dir, 'bind');
  await mkdir(home, { recursive: true });
  const port = await freeDnsPort();
  const tsig = { name: 'whisper-test-key', algorithm: 'hmac-sha256', secret: randomBytes(32).toString('base64') };
  const zoneFile = join(home, `db.${zone}`);
  await writeFile(
    zoneFile,
    [
      '$TTL 60',
      `@ IN SOA ns1.${zone}. hostmaster.${zone}. (1 60 60 600 5)`,
      `@ IN NS ns1.${zone}.`,
      'ns1 IN A 127.0.0.1',
      '',
    ].join('\n'),
  );
  const conf = join(home, 'named.conf');
  await writeFile(
    conf,
    `options {
  directory "${home}";
  pid-file "${join(home, 'named.pid')}";
  session-keyfile "${join(home, 'session.key')}";
  managed-keys-directory "${home}";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
};
controls { };
key "${tsig.name}" { algorithm ${tsig.algorithm}; secret "${tsig.secret}"; };
zone "${zone}" { type primary; file "${zoneFile}"; allow-update { key "${tsig.name}"; }; };
`,
  );
  const addr = `127.0.0.1:${port}`;
  const proc = await startProcess({
    name: 'named',
    command: binaries().named,
    args: ['-g', '-n', '1', '-c', conf],
    logFile: join(home, 'named.log'),
    ready: async () => {
      const r = new Resolver({ timeout: 500, tries: 1 });
      r.setServers([addr]);
      return (await r.resolveSoa(zone)).serial >= 1;
    },
  });
  return { process: proc, addr, zone, tsig, stop: (g) => proc.stop(g) };
}
