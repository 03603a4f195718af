import { describe, expect, it } from 'vitest';
import {
  crtListName, firstLines, haproxyCertName, judgeAnswer, parseCertStoreInfo, parseCertStoreList, parseCrtList,
  parseCrtLists, sameSerial,
} from '../../src/targets/haproxy-commands.js';

// Answers as HAProxy 2.6.12 (Debian 12) gives them.
const F = '/srv/certs/a.test.pem';

describe('names', () => {
  it('names a file of `crt <folder>` as HAProxy does, with or without a trailing slash', () => {
    expect(haproxyCertName('/srv/certs', 'a.test.pem')).toBe(F);
    expect(haproxyCertName('/srv/certs/', 'a.test.pem')).toBe(F);
    expect(crtListName('/srv/certs//')).toBe('/srv/certs');
    expect(crtListName('/')).toBe('/');
  });

  it('compares serials without leading zeros and case', () => {
    expect(sameSerial('0A02', 'a02')).toBe(true);
    expect(sameSerial('0A02', '0A03')).toBe(false);
    expect(sameSerial(undefined, '0A03')).toBe(false);
  });
});

describe('parsers', () => {
  it('reads the store list and the open transaction', () => {
    expect(parseCertStoreList('# filename\n/srv/certs/a.test.pem\n/srv/link/a.test.pem\n\n')).toEqual({
      files: [F, '/srv/link/a.test.pem'],
    });
    expect(parseCertStoreList(`# transaction\n*${F}\n# filename\n${F}\n\n`)).toEqual({ files: [F], transaction: F });
  });

  it('rejects an answer that is not a store list, retryable unless the socket is not admin', () => {
    expect(() => parseCertStoreList('Unknown command, but maybe one of the following...\n')).toThrow(
      expect.objectContaining({ code: 'TARGET_HAPROXY', retryable: false }),
    );
    expect(() => parseCertStoreList('something odd\n')).toThrow(expect.objectContaining({ retryable: true }));
  });

  it('reads one store: status and serial; absent when HAProxy has none', () => {
    const used = `Filename: ${F}\nStatus: Used\nSerial: 0A01\nnotBefore: Dec  2 16:05:06 2026 GMT\nSubject: /CN=a.test\nOCSP Response Key: \n\n`;
    expect(parseCertStoreInfo(F, used)).toEqual({ status: 'Used', serial: '0A01' });
    expect(parseCertStoreInfo(F, `Filename: ${F}\nStatus: Empty\nOCSP Response Key: \n\n`)).toEqual({ status: 'Empty' });
    expect(parseCertStoreInfo(F, "Can't display the certificate: Not found or the certificate is a bundle!\n\n")).toBeUndefined();
    expect(() => parseCertStoreInfo(F, 'Permission denied\n\n')).toThrow(expect.objectContaining({ retryable: false }));
  });

  it('reads a crt-list, and tells a missing one', () => {
    expect(parseCrtList('/srv/certs', `# /srv/certs\n${F}\n/srv/certs/b.pem [alpn h2] b.test\n\n`)).toEqual([F, '/srv/certs/b.pem']);
    expect(parseCrtList('/srv/nope', "didn't find the specified filename\n\n")).toBeUndefined();
    expect(parseCrtLists('/srv/certs\n/srv/link\n\n')).toEqual(['/srv/certs', '/srv/link']);
  });
});

describe('judgeAnswer', () => {
  it('accepts each command’s success wording', () => {
    expect(judgeAnswer('set ssl cert', F, `Transaction created for certificate ${F}!\n\n`)).toEqual({ ok: true, transactionFile: F });
    expect(judgeAnswer('set ssl cert', F, `Transaction updated for certificate ${F}!\n\n`).ok).toBe(true);
    expect(judgeAnswer('commit ssl cert', F, `Committing ${F}..\nSuccess!\n\n`)).toEqual({ ok: true });
    expect(judgeAnswer('new ssl cert', F, `New empty certificate store '${F}'!\n\n`)).toEqual({ ok: true });
    expect(judgeAnswer('add ssl crt-list', F, `Inserting certificate '${F}' in crt-list '/srv/certs'..\nSuccess!\n\n`)).toEqual({ ok: true });
    expect(judgeAnswer('del ssl crt-list', F, `Entry '${F}' deleted in crtlist '/srv/certs'!\n\n`)).toEqual({ ok: true });
    expect(judgeAnswer('del ssl cert', F, `Certificate '${F}' deleted!\n\n`)).toEqual({ ok: true });
    expect(judgeAnswer('abort ssl cert', F, `Transaction aborted for certificate '${F}'!\n\n`)).toEqual({ ok: true });
  });

  it('takes “already so” as done, so that repeating is harmless', () => {
    const already = { ok: true, already: true };
    expect(judgeAnswer('new ssl cert', F, `Certificate '${F}' already exists!\n\n`)).toEqual(already);
    expect(judgeAnswer('add ssl crt-list', F, "Can't edit the crt-list: file already exists in this directory!\n\n")).toEqual(already);
    expect(judgeAnswer('del ssl crt-list', F, `Can't delete the entry: certificate '${F}' does not exist!\n\n`)).toEqual(already);
    expect(judgeAnswer('del ssl cert', F, `Can't remove the certificate: certificate '${F}' doesn't exist!\n\n\n`)).toEqual(already);
    expect(judgeAnswer('abort ssl cert', F, 'No ongoing transaction!\n\n')).toEqual(already);
  });

  it('refuses failures, retryable only when waiting can help', () => {
    expect(judgeAnswer('set ssl cert', F, `unable to load certificate from file '${F}'.\nCan't load the payload\nCan't update ${F}!\n\n`))
      .toMatchObject({ ok: false, retryable: false });
    expect(judgeAnswer('commit ssl cert', F, `The transaction must contain at least a certificate and a private key!\nCan't commit ${F}!\n\n`))
      .toMatchObject({ ok: false, retryable: false });
    expect(judgeAnswer('commit ssl cert', F, `No ongoing transaction! !\nCan't commit ${F}!\n\n`)).toMatchObject({ ok: false, retryable: true });
    expect(judgeAnswer('commit ssl cert', F, "The ongoing transaction is about '/srv/certs/b.pem' but you are trying to commit\n"))
      .toMatchObject({ ok: false, retryable: true, reason: 'another transaction is open on /srv/certs/b.pem' });
    expect(judgeAnswer('del ssl cert', F, `Can't remove the certificate: certificate '${F}' in use, can't be deleted!\n\n\n`))
      .toMatchObject({ ok: false, retryable: false });
    expect(judgeAnswer('set ssl cert', F, 'Permission denied\n\n')).toMatchObject({ ok: false, retryable: false });
    expect(judgeAnswer('add ssl crt-list', F, 'Unknown command, but maybe one of the following ones is a better match:\n'))
      .toMatchObject({ ok: false, retryable: false, reason: expect.stringContaining('2.2') });
    expect(judgeAnswer('set ssl cert', F, '')).toMatchObject({ ok: false, retryable: true, reason: expect.stringContaining('tune.bufsize') });
  });

  it("does not count another file's transaction against an abort of ours", () => {
    expect(judgeAnswer('abort ssl cert', F, "The ongoing transaction is about '/srv/certs/b.pem' but you are trying to abort\n").ok).toBe(true);
  });
});

describe('firstLines', () => {
  it('never repeats a PEM line and stays short', () => {
    const b64 = 'MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg';
    const text = firstLines(`-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\nerror x\n`);
    expect(text).toBe('error x');
    expect(firstLines('x'.repeat(1000)).length).toBeLessThan(310);
  });
});
