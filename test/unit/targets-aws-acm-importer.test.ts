import { describe, it, expect } from 'vitest';
import type { ACMClient } from '@aws-sdk/client-acm';
import { X509Certificate } from 'node:crypto';
import { silentLogger } from '../../src/log.js';
import { createAcmImporter } from '../../src/targets/aws/acm-importer.js';
import type { DeliveryItem } from '../../src/targets/types.js';

interface Pem {
  key: string;
  cert: string;
}

// Self-signed leaves (openssl, valid for 100 years): two EC P-256, one RSA 2048. The importer never parses keys.
const ec1: Pem = {
  key: 'not parsed',
  cert:
    '-----BEGIN CERTIFICATE-----\n' +
    'MIIBhjCCAS2gAwIBAgIUb2yuw7se9lA0g05pkXspTLmiSUwwCgYIKoZIzj0EAwIw\n' +
    'GDEWMBQGA1UEAwwNYS5leGFtcGxlLmNvbTAgFw0yNjEyMDIxNjI1MDBaGA8yMTI2\n' +
    'MTEwODE2MjUwMFowGDEWMBQGA1UEAwwNYS5leGFtcGxlLmNvbTBZMBMGByqGSM49\n' +
    'AgEGCCqGSM49AwEHA0IABBPpS+qCy1ThhgYUEhoHr5AN9u9+/8qamy7Wgl1uaMIi\n' +
    'oogOnzMmBKcdTtqxXxXQVjx5knRRoFk+RREvUPgYzeSjUzBRMB0GA1UdDgQWBBTY\n' +
    'g4GFf1xNibgYOCHeVusnLbh1jTAfBgNVHSMEGDAWgBTYg4GFf1xNibgYOCHeVusn\n' +
    'Lbh1jTAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIE2OF42PWkEe\n' +
    'xf92qkVSjOOy7KDL3QrTovcfTI6HNpVlAiB18gHxgfe2dbKsLxeR/Nuyu7gyqgDh\n' +
    '5P3c0XOlt/PcPg==\n' +
    '-----END CERTIFICATE-----\n',
};
const ec2: Pem = {
  key: 'not parsed',
  cert:
    '-----BEGIN CERTIFICATE-----\n' +
    'MIIBiDCCAS2gAwIBAgIUBcgWYP1By55zBEaZXS09/u1hlmkwCgYIKoZIzj0EAwIw\n' +
    'GDEWMBQGA1UEAwwNYS5leGFtcGxlLmNvbTAgFw0yNjEyMDIxNjI1MDFaGA8yMTI2\n' +
    'MTEwODE2MjUwMVowGDEWMBQGA1UEAwwNYS5leGFtcGxlLmNvbTBZMBMGByqGSM49\n' +
    'AgEGCCqGSM49AwEHA0IABGLh49C0uDMTbt3ymaG5//dsPsZLeneQqqihYVnh5iZB\n' +
    'm0Hzp5mh1DKQrE2c45THkZJQ5VR7RlNla6xukcBTSSKjUzBRMB0GA1UdDgQWBBQl\n' +
    'T37dXjeJtS0heXkppvMPVdcmwjAfBgNVHSMEGDAWgBQlT37dXjeJtS0heXkppvMP\n' +
    'VdcmwjAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0kAMEYCIQDbspwDZAEn\n' +
    '86vl1KEkGQlefL5gRoaV9tPnhvdao3L6jgIhAOPST3BzIxuj/fzh2gLBrO20YM9Z\n' +
    'XbT759WQMpZjljT+\n' +
    '-----END CERTIFICATE-----\n',
};
const rsa: Pem = {
  key: 'not parsed',
  cert:
    '-----BEGIN CERTIFICATE-----\n' +
    'MIIDEzCCAfugAwIBAgIUFZ7OG0l2JLyHmekL22YcOV333hwwDQYJKoZIhvcNAQEL\n' +
    'BQAwGDEWMBQGA1UEAwwNYS5leGFtcGxlLmNvbTAgFw0yNjEyMDIxNjI1MDFaGA8y\n' +
    'MTI2MTEwODE2MjUwMVowGDEWMBQGA1UEAwwNYS5leGFtcGxlLmNvbTCCASIwDQYJ\n' +
    'KoZIhvcNAQEBBQADggEPADCCAQoCggEBANGRTju1hjm4TIwLCHVGIG/Cc9Inkav9\n' +
    'sG7lY6MCCbWduFHBVZjc96yZ07pfc/xHqjb6qgUEIbwJHxe1OSMGkbPf88euQHfp\n' +
    '2oasqGTLPF5Y6Y8StsNxKYnsf1y07HEtVvl5Ad/ib+ueuNxRFmEGdUY3PFcHcYPz\n' +
    'rG/QHQz+TP/tyEl0bMUh6xEAhyiVYzpcH95ttkxwMRD5MvNwJoHSirMwevL3bIjR\n' +
    'g2rUOIa9YZUim1VlFCoYRghyKhuRrB5lfRFmksA/J+d5tCguQK7EFqfJtkqIRPIg\n' +
    'abes+GC6bzDJVUN6loxkBb4xhsm7Nk5bb+o2305swVnf/cns7jH/jeMCAwEAAaNT\n' +
    'MFEwHQYDVR0OBBYEFDcTgG/dUJdLd7l6vE5Ag3TpQnMDMB8GA1UdIwQYMBaAFDcT\n' +
    'gG/dUJdLd7l6vE5Ag3TpQnMDMA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQEL\n' +
    'BQADggEBAGrmNcbOEvuPkyXDYrKJbH8mjS0b2iVXa1XcplRvgGRnjfWspL9AIjKS\n' +
    'FmwpesX9KxAl3LHjCGbgM/RoDttCKdOsxVv4yRhcvDiJ3mieSoBWUE3Oy2sDZQF5\n' +
    'Mrvbci8tyM9JtggvoKLWkeIeNavjlJ/y74R0e6Raxma3nGEiLM1UUlQu3xUYRwqg\n' +
    'lGutCQfcQGL5VIbXg4WB6Pkp40sdG/nKJ47iZ9Ft1xLyFAQ3k7/IvQ2YnGGN4+mr\n' +
    'gbhhJSaPWoGSbYKx8HZmSwybIrW3+WiPW2P9d8s3l5JXt6tumKP1XDSeB/e3LvIR\n' +
    'oibVSWcomXOGaukhuf0301COzUgawgc=\n' +
    '-----END CERTIFICATE-----\n',
};

function item(p: Pem, id = 'a.example.com'): DeliveryItem {
  const x = new X509Certificate(p.cert);
  return {
    id,
    names: [id],
    serial: x.serialNumber.toUpperCase(),
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    key: p.key,
    cert: p.cert,
    chain: '',
    path: `/f/${id}.pem`,
  };
}

type Call = { name: string; input: Record<string, unknown> };

/** A fake ACM: a map of ARN to PEM, every call recorded. */
function fakeAcm(certs = new Map<string, string>(), tags = new Map<string, string>()) {
  const calls: Call[] = [];
  let n = 0;
  const client = {
    async send(cmd: { constructor: { name: string }; input: Record<string, unknown> }) {
      const name = cmd.constructor.name.replace(/Command$/, '');
      calls.push({ name, input: cmd.input });
      await new Promise((r) => setImmediate(r));
      switch (name) {
        case 'ListCertificates':
          return { CertificateSummaryList: [...certs.keys()].map((a) => ({ CertificateArn: a, Type: 'IMPORTED' })) };
        case 'ListTagsForCertificate': {
          const id = tags.get(String(cmd.input.CertificateArn));
          return { Tags: id ? [{ Key: 'whisper-ts:id', Value: id }] : [] };
        }
        case 'GetCertificate': {
          const pem = certs.get(String(cmd.input.CertificateArn));
          if (!pem) throw Object.assign(new Error('not found'), { name: 'ResourceNotFoundException' });
          return { Certificate: pem };
        }
        case 'ImportCertificate': {
          const arn = (cmd.input.CertificateArn as string | undefined) ?? `arn:aws:acm:eu-west-1:1:certificate/${++n}`;
          certs.set(arn, Buffer.from(cmd.input.Certificate as Uint8Array).toString());
          const t = (cmd.input.Tags as { Value: string }[] | undefined)?.[0];
          if (t) tags.set(arn, t.Value);
          return { CertificateArn: arn };
        }
        default:
          throw new Error(`unexpected ${name}`);
      }
    },
  };
  return { client: client as unknown as ACMClient, calls, certs };
}

const log = silentLogger();
const never = new AbortController().signal;
const names = (calls: Call[]) => calls.map((c) => c.name);

describe('ACM importer', () => {
  it('imports once when two targets deliver the same certificate at the same time', async () => {
    const acm = fakeAcm();
    const imp = createAcmImporter(acm.client, 'eu-west-1');
    const [a, b] = await Promise.all([
      imp.ensure(item(ec1), undefined, 'acm://eu-west-1', log, never),
      imp.ensure(item(ec1), undefined, 'elbv2://x', log, never),
    ]);
    expect(a).toEqual({ arn: 'arn:aws:acm:eu-west-1:1:certificate/1', action: 'imported' });
    expect(b).toEqual({ arn: a.arn, action: 'none' });
    expect(names(acm.calls).filter((x) => x === 'ImportCertificate')).toHaveLength(1);
    expect(acm.calls.find((c) => c.name === 'ImportCertificate')!.input.Tags).toEqual([
      { Key: 'whisper-ts:id', Value: 'a.example.com' },
    ]);
  });

  it('re-imports a renewal into the recorded ARN, without tags', async () => {
    const acm = fakeAcm(new Map([['arn:old', ec1.cert]]));
    const imp = createAcmImporter(acm.client, 'eu-west-1');
    expect(await imp.ensure(item(ec2), 'arn:old', 'acm://eu-west-1', log, never)).toEqual({
      arn: 'arn:old',
      action: 'reimported',
    });
    const imported = acm.calls.find((c) => c.name === 'ImportCertificate')!.input;
    expect(imported.CertificateArn).toBe('arn:old');
    expect(imported.Tags).toBeUndefined();
    expect(names(acm.calls)).not.toContain('ListCertificates');
  });

  it('the same serial in place: nothing imported', async () => {
    const acm = fakeAcm(new Map([['arn:old', ec1.cert]]));
    const imp = createAcmImporter(acm.client, 'eu-west-1');
    expect((await imp.ensure(item(ec1), 'arn:old', 'acm://eu-west-1', log, never)).action).toBe('none');
    expect(names(acm.calls)).toEqual(['GetCertificate']);
  });

  it('a changed key type gets a new ARN; a deleted ARN too', async () => {
    const acm = fakeAcm(new Map([['arn:old', ec1.cert]]));
    const imp = createAcmImporter(acm.client, 'eu-west-1');
    const r = await imp.ensure(item(rsa), 'arn:old', 'acm://eu-west-1', log, never);
    expect(r.action).toBe('imported');
    expect(r.arn).not.toBe('arn:old');

    const acm2 = fakeAcm();
    const imp2 = createAcmImporter(acm2.client, 'eu-west-1');
    const r2 = await imp2.ensure(item(ec1), 'arn:gone', 'acm://eu-west-1', log, never);
    expect(r2.action).toBe('imported');
  });

  it('without a recorded ARN, finds ours by its tag (one listing for every id)', async () => {
    const acm = fakeAcm(new Map([['arn:tagged', ec1.cert]]), new Map([['arn:tagged', 'a.example.com']]));
    const imp = createAcmImporter(acm.client, 'eu-west-1');
    expect(await imp.ensure(item(ec2), undefined, 'acm://eu-west-1', log, never)).toEqual({
      arn: 'arn:tagged',
      action: 'reimported',
    });
    await imp.ensure(item(ec1, 'b.example.com'), undefined, 'acm://eu-west-1', log, never);
    expect(names(acm.calls).filter((x) => x === 'ListCertificates')).toHaveLength(1);
  });
});
