import { randomInt } from 'node:crypto';
import { isWhisperError, WhisperError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { DnsProvider, TxtRecord } from './provider.js';
import { exchange, formatServer, parseServer, type DnsServerAddress, type ExchangeOptions } from './transport.js';
import { signMessage, tsigAlgorithm, verifyResponse, type TsigKey } from './tsig.js';
import { buildQuery, buildUpdate, encodeMessage, Rcode, rcodeName, RRType, txtData, type DecodedMessage, type DnsMessage, type UpdateRecord } from './wire.js';
import { decodeMessage } from './wire-decode.js';

/** Sends one DNS message and returns the raw answer (the real one is {@link exchange}). */
export type DnsTransport = (message: Buffer, server: DnsServerAddress, options: ExchangeOptions) => Promise<Buffer>;

/** Options of {@link createRfc2136Provider}. */
export interface Rfc2136Options {
  /** The primary server that accepts updates, `host:port` (port 53 when absent). */
  readonly server: string;
  /** The zone to update. When absent, found per name by SOA queries to `server`, walking up the parents. */
  readonly zone?: string;
  /** TSIG key for the updates (RFC 8945). Without it updates are unsigned. */
  readonly tsig?: TsigKey;
  /** TTL of the TXT records. @default 60 */
  readonly ttl?: number;
  /** Timeout of one UDP or TCP attempt. @default 5000 */
  readonly timeoutMs?: number;
  /** @default silentLogger() */
  readonly log?: Logger;
  /** Clock for TSIG times, in ms. @default Date.now */
  readonly now?: () => number;
  /** @default exchange (UDP, TCP when truncated) */
  readonly transport?: DnsTransport;
  /** How long the zone found for a name (without `zone`) is remembered. @default 300000 */
  readonly zoneCacheMs?: number;
}

/** Largest UPDATE sent as one message: DNS over TCP carries 65,535 bytes, less room for the TSIG record. */
const MAX_UPDATE_BYTES = 65_000;

/** The UPDATE messages for `rrs` of one zone: one, unless it would not fit in a DNS message; then halves. */
function updateMessages(zone: string, ttl: number, mode: 'add' | 'delete', rrs: readonly UpdateRecord[]): DnsMessage[] {
  const message = buildUpdate({ id: randomInt(65536), zone, ttl, [mode]: rrs });
  if (rrs.length <= 1 || encodeMessage(message).length <= MAX_UPDATE_BYTES) return [message];
  const half = Math.ceil(rrs.length / 2);
  return [...updateMessages(zone, ttl, mode, rrs.slice(0, half)), ...updateMessages(zone, ttl, mode, rrs.slice(half))];
}

/** Rcodes worth trying again later: the server is having trouble, not refusing. */
const retryableRcodes = new Set<number>([Rcode.SERVFAIL]);

function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function inZone(fqdn: string, zone: string): boolean {
  return zone === '' || fqdn === zone || fqdn.endsWith(`.${zone}`);
}

function parentOf(name: string): string | undefined {
  const dot = name.indexOf('.');
  return dot < 0 ? undefined : name.slice(dot + 1);
}

/**
 * A {@link DnsProvider} for any server that takes RFC 2136 dynamic updates (BIND, Knot, PowerDNS),
 * optionally TSIG-signed. `present` sends one UPDATE per zone adding every TXT value; `cleanUp`
 * one UPDATE deleting exactly those records (deleting a missing record is not an error, so both repeat safely).
 */
export function createRfc2136Provider(options: Rfc2136Options): DnsProvider {
  const server = parseServer(options.server);
  const serverName = formatServer(server);
  const transport = options.transport ?? exchange;
  const log = (options.log ?? silentLogger()).child({ component: 'rfc2136', server: serverName });
  const now = options.now ?? Date.now;
  const fixedZone = options.zone === undefined ? undefined : normalizeName(options.zone);
  if (options.tsig) tsigAlgorithm(options.tsig.algorithm); // fail at start on a bad algorithm

  async function send(message: DnsMessage, signed: boolean, what: string, signal?: AbortSignal): Promise<DecodedMessage> {
    let wire = encodeMessage(message);
    let mac: Buffer | undefined;
    if (signed && options.tsig) ({ wire, mac } = signMessage(wire, options.tsig, { now }));
    const raw = await transport(wire, server, { timeoutMs: options.timeoutMs ?? 5000, signal });
    let answer: DecodedMessage;
    try {
      answer = decodeMessage(raw);
    } catch (err) {
      throw new WhisperError('DNS_PROVIDER', `${what}: ${isWhisperError(err) ? err.message : 'undecodable answer'}`, { cause: err });
    }
    if (!answer.qr || answer.opcode !== message.opcode) {
      throw new WhisperError('DNS_PROVIDER', `${what}: the answer is not a response to the request`);
    }
    const unsignedError = answer.tsigOffset === undefined && answer.rcode !== Rcode.NOERROR;
    if (mac && options.tsig && !unsignedError) {
      try {
        verifyResponse(raw, answer, options.tsig, mac, { now });
      } catch (err) {
        if (!isWhisperError(err)) throw err;
        throw new WhisperError('DNS_PROVIDER', `${what}: ${err.message}`, { retryable: err.retryable, cause: err });
      }
    }
    return answer;
  }

  async function findZone(fqdn: string, signal?: AbortSignal): Promise<string> {
    if (fixedZone !== undefined) {
      if (!inZone(fqdn, fixedZone)) throw new WhisperError('DNS_ZONE_NOT_FOUND', `${fqdn} is not in the configured zone ${fixedZone}`);
      return fixedZone;
    }
    // Stop below the root: no server we update holds the root zone.
    for (let name: string | undefined = fqdn; name !== undefined && name !== ''; name = parentOf(name)) {
      const what = `SOA query for ${name} to ${serverName}`;
      const answer = await send(buildQuery(randomInt(65536), name, RRType.SOA), false, what, signal);
      if (retryableRcodes.has(answer.rcode)) {
        throw new WhisperError('DNS_PROVIDER', `${what}: ${rcodeName(answer.rcode)}`, { retryable: true });
      }
      const owner = [...answer.answers, ...answer.authorities]
        .filter((rr) => rr.type === RRType.SOA)
        .map((rr) => normalizeName(rr.name))
        .find((zone) => inZone(fqdn, zone));
      if (owner !== undefined) return owner;
    }
    throw new WhisperError('DNS_ZONE_NOT_FOUND', `no zone for ${fqdn} on ${serverName} (no SOA for it or any parent)`);
  }

  const zoneCacheMs = options.zoneCacheMs ?? 300_000;
  const knownZones = new Map<string, { zone: string; expires: number }>();
  /** {@link findZone}, remembered: the batch key and the update of one name ask for it in turn. */
  async function zoneFor(fqdn: string, signal?: AbortSignal): Promise<string> {
    const hit = knownZones.get(fqdn);
    if (hit && hit.expires > now()) return hit.zone;
    const zone = await findZone(fqdn, signal);
    if (fixedZone === undefined) {
      if (knownZones.size >= 10_000) for (const [name, e] of knownZones) if (e.expires <= now()) knownZones.delete(name);
      knownZones.set(fqdn, { zone, expires: now() + zoneCacheMs });
    }
    return zone;
  }

  async function update(records: readonly TxtRecord[], mode: 'add' | 'delete', signal?: AbortSignal): Promise<void> {
    const byZone = new Map<string, Map<string, UpdateRecord>>();
    for (const record of records) {
      const fqdn = normalizeName(record.fqdn);
      const zone = await zoneFor(fqdn, signal);
      const set = byZone.get(zone) ?? new Map<string, UpdateRecord>();
      set.set(`${fqdn}\0${record.value}`, { name: fqdn, type: RRType.TXT, data: txtData(record.value) });
      byZone.set(zone, set);
    }
    for (const [zone, set] of byZone) {
      const what = `RFC 2136 update (${mode}) of zone ${zone || '.'} at ${serverName}`;
      const rrs = [...set.values()];
      for (const message of updateMessages(zone, options.ttl ?? 60, mode, rrs)) {
        const answer = await send(message, true, what, signal);
        if (answer.rcode !== Rcode.NOERROR) {
          throw new WhisperError('DNS_PROVIDER', `${what}: server answered ${rcodeName(answer.rcode)}`, {
            retryable: retryableRcodes.has(answer.rcode),
          });
        }
      }
      log.debug({ zone, mode, names: [...new Set(rrs.map((rr) => rr.name))], count: rrs.length }, 'RFC 2136 update accepted');
    }
  }

  return {
    name: 'rfc2136',
    present: (records, signal) => update(records, 'add', signal),
    cleanUp: (records, signal) => update(records, 'delete', signal),
    nameservers: () => Promise.resolve([options.server]),
    // One UPDATE carries the records of one zone: the zone is the batch key of dns/batch.ts.
    batchKey: (fqdn, signal) => zoneFor(normalizeName(fqdn), signal),
  } satisfies DnsProvider;
}
