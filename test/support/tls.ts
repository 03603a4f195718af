import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { binaries } from './paths.js';

const run = promisify(execFile);

/** Files of a throwaway CA and a server certificate for 127.0.0.1 and localhost. */
export interface TlsFiles {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** Makes a CA and a server certificate (for Pebble's HTTPS) with openssl, in `dir`. */
export async function makeServerCert(dir: string, name = 'server'): Promise<TlsFiles> {
  const o = binaries().openssl;
  const caKey = join(dir, `${name}-ca.key`);
  const caFile = join(dir, `${name}-ca.pem`);
  const keyFile = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const certFile = join(dir, `${name}.pem`);
  const ext = join(dir, `${name}.ext`);
  await run(o, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', caKey]);
  await run(o, ['req', '-x509', '-new', '-key', caKey, '-sha256', '-days', '2', '-subj', `/CN=whisper-ts test ${name} CA`, '-out', caFile]);
  await run(o, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile]);
  await run(o, ['req', '-new', '-key', keyFile, '-subj', '/CN=localhost', '-out', csr]);
  await writeFile(ext, 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await run(o, ['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-days', '2', '-sha256', '-extfile', ext, '-out', certFile]);
  return { caFile, certFile, keyFile };
}
