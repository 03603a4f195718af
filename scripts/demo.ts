/**
 * The README's first command: whisper-ts on an embedded default. Starts a local Consul, Pebble (a test ACME CA),
 * the Route53 emulator with its DNS front, registers a few sample services, runs the real `whisper-ts` CLI against
 * them, lists the certificates it wrote, and keeps running until Ctrl-C.
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { startTestEnv } from '../test/support/test-env.js';

const folder = resolve(process.argv[2] ?? 'demo-certs');
const env = await startTestEnv();
const { consul, pebble, route53, dnsFront } = env.env;
const zone = route53.zone;

const samples = [
  { Name: 'web', Tags: [`dns=${zone}`, 'ssl=offloading'] },
  { Name: 'api', Tags: [`dns=${zone}`, 'vhost=api', 'https=443'] },
  { Name: 'shop', Tags: [`dns=${zone}`, 'vhost=shop', 'vhost=www', 'https=443'] },
];
for (const s of samples) {
  await fetch(`http://${consul.httpAddr}/v1/agent/service/register`, { method: 'PUT', body: JSON.stringify({ ...s, Port: 8080 }) });
}
await mkdir(folder, { recursive: true, mode: 0o700 });
console.log(`demo: Consul ${consul.httpAddr}, Pebble ${pebble.directoryUrl}, Route53 emulator ${route53.endpoint}`);
console.log(`demo: registered ${samples.map((s) => s.Name).join(', ')}; certificates go to ${folder}`);

const args = [
  resolve('dist/bin.js'), folder,
  '--consul', consul.httpAddr,
  '--directory-url', pebble.directoryUrl,
  '--ca-bundle', pebble.tlsCaFile,
  '--dns-provider', 'route53',
  '--route53-endpoint', route53.endpoint,
  '--dns-resolver', dnsFront.addr,
  '--allow-domain', zone,
];
const child = spawn(process.execPath, args, {
  stdio: 'inherit',
  env: { ...process.env, ACME_REGISTER_EMAIL: 'demo@example.com', AWS_ACCESS_KEY_ID: 'demo', AWS_SECRET_ACCESS_KEY: 'demo' },
});

async function list(): Promise<string[]> {
  const files = (await readdir(folder)).filter((f) => f.endsWith('.pem')).sort();
  const rows: string[] = [];
  for (const f of files) {
    const cert = new X509Certificate(await readFile(resolve(folder, f)));
    rows.push(`  ${f.padEnd(40)} ${(cert.subjectAltName ?? '').padEnd(60)} until ${new Date(cert.validTo).toISOString()}`);
  }
  return rows;
}

const expected = ['web', 'multi-hosts'].length;
for (let i = 0; i < 240; i++) {
  await new Promise((r) => setTimeout(r, 500));
  if ((await list()).length >= expected || child.exitCode !== null) break;
}
console.log(`\ndemo: certificates in ${folder}:\n${(await list()).join('\n')}\n`);
console.log('demo: whisper-ts keeps watching Consul; register more services with dns=' + zone + ' tags, or press Ctrl-C to stop.');

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  child.kill('SIGTERM');
  await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
  await env.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
child.once('exit', (code) => {
  if (!stopping) {
    console.error(`demo: whisper-ts exited with ${code}`);
    void env.stop().then(() => process.exit(code ?? 1));
  }
});
