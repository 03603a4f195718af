import type {
  ACMClient} from '@aws-sdk/client-acm';
import {
  GetCertificateCommand,
  ImportCertificateCommand,
  ListCertificatesCommand,
  ListTagsForCertificateCommand,
  type KeyAlgorithm,
} from '@aws-sdk/client-acm';
import { WhisperError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { DeliveryItem } from '../types.js';
import { awsCall, awsErrorName } from './errors.js';
import { acmKeyAlgorithm, certSerial } from './pem-info.js';

/** The tag whisper-ts puts on the certificates it imports into ACM: the certificate id. */
export const ACM_ID_TAG = 'whisper-ts:id';

// ListCertificates returns RSA_2048 certificates alone unless asked for every key type.
const KEY_TYPES: KeyAlgorithm[] = [
  'RSA_1024',
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
  'EC_prime256v1',
  'EC_secp384r1',
  'EC_secp521r1',
];

/** What {@link AcmImporter.ensure} did. */
export interface AcmImport {
  readonly arn: string;
  /** `none`: the serial was in place; `reimported`: same ARN, new certificate; `imported`: a new ARN. */
  readonly action: 'none' | 'reimported' | 'imported';
}

/**
 * Puts certificates into ACM in one region, shared by every target that needs them there (`acm://`, `elbv2://`,
 * `cloudfront://` in us-east-1), so each serial is imported once. One certificate id keeps one ARN: a renewal is
 * re-imported into it (whatever uses it keeps using it), unless the key type changed (ACM refuses that: a new ARN).
 */
export interface AcmImporter {
  readonly region: string;
  /**
   * Makes `item` the certificate of its ARN (`knownArn`: what the calling target recorded). Safe to repeat. `who`
   * (the calling target's name) starts error messages.
   */
  ensure(
    item: DeliveryItem,
    knownArn: string | undefined,
    who: string,
    log: Logger,
    signal: AbortSignal,
  ): Promise<AcmImport>;
  /** Forgets what it knows of `id` (its certificate was deleted). */
  forget(id: string): void;
  /** The SDK client, for the targets' other ACM calls. */
  readonly client: ACMClient;
}

/** A new {@link AcmImporter} over `client`. */
export function createAcmImporter(client: ACMClient, region: string): AcmImporter {
  const known = new Map<string, { arn: string; serial: string }>();
  const locks = new Map<string, Promise<unknown>>();
  let tagged: Promise<Map<string, string>> | undefined;

  /** One ensure per id at a time: two targets delivering one certificate import it once. */
  function locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = locks.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    locks.set(id, tail);
    void tail.then(() => {
      if (locks.get(id) === tail) locks.delete(id);
    });
    return next;
  }

  /** Our certificates in the region by id, from their tag: read once, when an id has no known ARN. */
  function scanTags(who: string, signal: AbortSignal): Promise<Map<string, string>> {
    tagged ??= (async () => {
      const byId = new Map<string, string>();
      let token: string | undefined;
      do {
        const page = await awsCall(`${who}: ListCertificates in ${region}`, () =>
          client.send(
            new ListCertificatesCommand({ Includes: { keyTypes: KEY_TYPES }, ...(token ? { NextToken: token } : {}) }),
            { abortSignal: signal },
          ),
        );
        for (const s of page.CertificateSummaryList ?? []) {
          if (!s.CertificateArn || (s.Type && s.Type !== 'IMPORTED')) continue;
          const arn = s.CertificateArn;
          const tags = await awsCall(`${who}: ListTagsForCertificate ${arn}`, () =>
            client.send(new ListTagsForCertificateCommand({ CertificateArn: arn }), { abortSignal: signal }),
          );
          const id = tags.Tags?.find((t) => t.Key === ACM_ID_TAG)?.Value;
          if (id) byId.set(id, arn);
        }
        token = page.NextToken;
      } while (token);
      return byId;
    })();
    // A failed scan is tried again next time.
    tagged.catch(() => (tagged = undefined));
    return tagged;
  }

  async function current(arn: string, what: string, signal: AbortSignal): Promise<string | undefined> {
    try {
      const got = await client.send(new GetCertificateCommand({ CertificateArn: arn }), { abortSignal: signal });
      return got.Certificate;
    } catch (err) {
      if (awsErrorName(err) === 'ResourceNotFoundException') return undefined;
      return awsCall(what, () => Promise.reject(err));
    }
  }

  async function ensureLocked(
    item: DeliveryItem,
    knownArn: string | undefined,
    who: string,
    log: Logger,
    signal: AbortSignal,
  ): Promise<AcmImport> {
    const where = `${who} ${item.id}`;
    const cached = known.get(item.id);
    if (cached?.serial === item.serial) return { arn: cached.arn, action: 'none' };
    let arn = cached?.arn ?? knownArn ?? (await scanTags(who, signal)).get(item.id);
    let reimport = false;
    if (arn) {
      const pem = await current(arn, `${where}: GetCertificate ${arn}`, signal);
      if (pem === undefined) {
        log.warn({ arn }, 'ACM certificate gone: importing a new one');
        arn = undefined;
      } else if (certSerial(pem) === item.serial) {
        known.set(item.id, { arn, serial: item.serial });
        return { arn, action: 'none' };
      } else if (acmKeyAlgorithm(pem) !== acmKeyAlgorithm(item.cert)) {
        log.info({ arn }, 'key type changed: importing into a new ACM ARN');
        arn = undefined;
      } else {
        reimport = true;
      }
    }
    const input = {
      Certificate: Buffer.from(item.cert),
      PrivateKey: Buffer.from(item.key),
      ...(item.chain.trim() ? { CertificateChain: Buffer.from(item.chain) } : {}),
    };
    const out = await awsCall(`${where}: ImportCertificate in ${region}${reimport ? ` into ${arn}` : ''}`, () =>
      client.send(
        new ImportCertificateCommand(
          reimport ? { ...input, CertificateArn: arn } : { ...input, Tags: [{ Key: ACM_ID_TAG, Value: item.id }] },
        ),
        { abortSignal: signal },
      ),
    );
    const newArn = out.CertificateArn ?? arn;
    if (!newArn) {
      throw new WhisperError('TARGET_AWS', `${where}: ImportCertificate returned no ARN`, { retryable: true });
    }
    known.set(item.id, { arn: newArn, serial: item.serial });
    void tagged?.then(
      (m) => m.set(item.id, newArn),
      () => undefined,
    );
    return { arn: newArn, action: reimport ? 'reimported' : 'imported' };
  }

  return {
    region,
    client,
    forget: (id) => {
      known.delete(id);
      void tagged?.then(
        (m) => m.delete(id),
        () => undefined,
      );
    },
    ensure: (item, knownArn, who, log, signal) =>
      locked(item.id, () => ensureLocked(item, knownArn, who, log, signal)),
  };
}
