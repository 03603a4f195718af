/** One TXT value to publish for a DNS-01 challenge. */
export interface TxtRecord {
  /** Fully qualified record name, lowercase, no trailing dot: `_acme-challenge.www.example.com`. */
  readonly fqdn: string;
  /** The TXT value (the dns-01 key authorization digest). A secret until validated: never log it. */
  readonly value: string;
  /**
   * A DNS-PERSIST-01 record (`_validation-persist.<name>`): meant to stay, never journaled or cleaned up; its value
   * (issuer and account URL) is public and may be shown. @default false
   */
  readonly persistent?: boolean;
}

/** Waits until a submitted change is live (see {@link DnsProvider.submit}); safe to call more than once. */
export type DnsChangeWait = (signal?: AbortSignal) => Promise<void>;

/** Propagation settings a provider may suggest (the check itself lives in `dns/propagation.ts`). */
export interface PropagationHints {
  /** Give up after this long. @default 120000 */
  readonly timeoutMs?: number;
  /** First delay between checks; grows up to 10 s. @default 500 */
  readonly intervalMs?: number;
}

/**
 * A DNS back end that can publish and remove ACME challenge TXT records.
 *
 * Both calls take every record of one order at once, so a provider can batch (Route53: one change
 * per zone; RFC 2136: one UPDATE). Both are safe to repeat: `present` upserts (adding the value to
 * any already there for the same name), `cleanUp` of a record that is gone succeeds.
 */
export interface DnsProvider {
  /** Short name for logs and metrics: `route53`, `rfc2136`, `exec`. */
  readonly name: string;
  /** Publish the values; resolves when the back end has accepted them (Route53: INSYNC). */
  present(records: readonly TxtRecord[], signal?: AbortSignal): Promise<void>;
  /** Remove exactly these values, leaving other values of the same name in place. */
  cleanUp(records: readonly TxtRecord[], signal?: AbortSignal): Promise<void>;
  /** Suggested propagation settings. */
  readonly propagation?: PropagationHints;
  /**
   * The name servers (`host:port` or IP) that answer authoritatively for the record, when the
   * provider knows them better than an NS lookup (RFC 2136: its server). `--dns-resolver`, when given, is
   * asked instead. Optional.
   */
  nameservers?(fqdn: string, signal?: AbortSignal): Promise<string[]>;
  /**
   * What one change of the back end covers, for a record: records of the same key may share one `present` or
   * `cleanUp` call (Route53: profile and hosted zone id; RFC 2136: the zone). When present, `dns/batch.ts` gathers
   * the records of concurrent orders into one call per key; without it every order makes its own calls (exec).
   * Throws as `present` would for a record no zone holds. Optional.
   */
  batchKey?(fqdn: string, signal?: AbortSignal): Promise<string>;
  /**
   * `present` or `cleanUp` in two steps: resolves once the back end accepted the change (Route53: the change is
   * submitted, PENDING) with a function that waits until it is live (INSYNC). `dns/batch.ts` sends the next change
   * of a zone as soon as the previous one was accepted, so orders arriving during a long wait do not wait for it
   * first. Optional: without it, a zone's next change goes out when the previous call returned.
   */
  submit?(mode: 'present' | 'cleanUp', records: readonly TxtRecord[], signal?: AbortSignal): Promise<DnsChangeWait>;
  /** Release clients and sockets. Optional. */
  close?(): Promise<void>;
}
