import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../src/log.js';
import { revokeCertificate } from '../../src/acme/revoke.js';
import type { RevocationReason } from '../../src/ops/types.js';
import { createFolderStore } from '../../src/store/folder.js';
import { makeCert, makeKey } from './store/x509-fixture.js';
import { failure } from './failure.js';
import { fakeAccountCa } from './acme-account-ops-fake.js';

const DIR = 'https://ca.test/directory';
const log = silentLogger();

let base: string;
beforeEach(async () => {
  base = await fsp.mkdtemp(path.join(tmpdir(), 'whisper-revoke-'));
});
afterEach(async () => {
  await fsp.rm(base, { recursive: true, force: true });
});

async function setup() {
  const ca = fakeAccountCa();
  const store = createFolderStore(base);
  const key = makeKey().pem;
  await store.writeAccount({ key, urls: { [DIR]: ca.register(key) } });
  const leafKey = makeKey().privateKey;
  const certPem = makeCert({ subjectKey: leafKey, issuerKey: leafKey, names: ['www.example.com'], serial: 0xabcdefn });
  return { ca, store, certPem };
}

describe('revokeCertificate', () => {
  it('revokes with the account key and the RFC 5280 reason code; a second revocation is a no-op (alreadyRevoked)', async () => {
    const { ca, store, certPem } = await setup();
    const opts = { directoryUrl: DIR, store, clients: ca.factory, certPem, reason: 'keyCompromise' as const, log };
    await revokeCertificate(opts);
    expect(ca.revocations).toEqual([{ reason: 1 }]);
    await expect(revokeCertificate(opts)).resolves.toBeUndefined();
    expect(ca.calls.filter((c) => c === 'revokeCertificate')).toHaveLength(2);
    expect(ca.revocations).toHaveLength(1);
  });

  it('refuses a PEM that is no certificate, and an unknown reason, before asking the CA', async () => {
    const { ca, store, certPem } = await setup();
    const bad = await failure(revokeCertificate({ directoryUrl: DIR, store, clients: ca.factory, certPem: 'nope', reason: 'superseded', log }));
    expect(bad.code).toBe('CONFIG_INVALID');
    const reason = await failure(revokeCertificate({ directoryUrl: DIR, store, clients: ca.factory, certPem, reason: 'bored' as RevocationReason, log }));
    expect(reason.code).toBe('CONFIG_INVALID');
    expect(reason.message).toContain('keyCompromise');
    const inherited = await failure(revokeCertificate({ directoryUrl: DIR, store, clients: ca.factory, certPem, reason: 'toString' as RevocationReason, log }));
    expect(inherited.code).toBe('CONFIG_INVALID');
    expect(ca.calls).toEqual([]);
  });

  it('without an account: ACME_ACCOUNT, nothing registered', async () => {
    const ca = fakeAccountCa();
    const leafKey = makeKey().privateKey;
    const certPem = makeCert({ subjectKey: leafKey, issuerKey: leafKey, names: ['a.example.com'] });
    const err = await failure(revokeCertificate({ directoryUrl: DIR, store: createFolderStore(base), clients: ca.factory, certPem, reason: 'unspecified', log }));
    expect(err.code).toBe('ACME_ACCOUNT');
    expect(ca.calls).toEqual([]);
  });
});
