import {
  ListHostedZonesCommand, ListResourceRecordSetsCommand, Route53Client,
  type ListResourceRecordSetsCommandOutput, type RRType as R53Type,
} from '@aws-sdk/client-route-53';
import { RRType, splitTxt, typeFromName, type RData, type ResourceRecord } from '../../src/dns/wire.js';

/**
 * One record set as a zone source holds it. Values are in presentation form: `192.0.2.1`, `ns1.example.`,
 * an SOA's seven fields, and for TXT either quoted strings (`"abc" "def"`, Route53's form) or bare text.
 */
export interface RRset {
  readonly name: string;
  readonly type: string;
  readonly ttl: number;
  readonly values: readonly string[];
}

/** Where the front reads its zones, live on every query. */
export interface ZoneSource {
  zones(): Promise<string[]>;
  rrsets(zone: string): Promise<RRset[]>;
  close?(): Promise<void>;
}

/** Lowercase, no trailing dot, Route53's octal escapes (`\052` is `*`) decoded. */
export function normalizeName(name: string): string {
  return name
    .replace(/\\([0-7]{3})/g, (_, d: string) => String.fromCharCode(parseInt(d, 8)))
    .toLowerCase()
    .replace(/\.$/, '');
}

/** TXT presentation form to character-strings: quoted strings with `\"`, `\\`, octal `\ddd` (Route53's escapes); bare text as one value. */
export function parseTxtValue(value: string): string[] {
  const v = value.trim();
  if (!v.startsWith('"')) return splitTxt(v);
  const out: string[] = [];
  let i = 0;
  while (i < v.length) {
    if (/\s/.test(v[i] ?? '')) { i++; continue; }
    const quoted = v[i] === '"';
    if (quoted) i++;
    let s = '';
    for (; i < v.length; i++) {
      const c = v[i] ?? '';
      if (quoted ? c === '"' : /\s/.test(c)) { if (quoted) i++; break; }
      if (c === '\\') {
        const digits = /^[0-7]{3}/.exec(v.slice(i + 1));
        s += digits ? String.fromCharCode(parseInt(digits[0], 8)) : (v[i + 1] ?? '');
        i += digits ? 3 : 1;
      } else s += c;
    }
    out.push(s);
  }
  return out;
}

function toRData(type: number, value: string): RData | undefined {
  switch (type) {
    case RRType.A:
    case RRType.AAAA:
      return { kind: 'address', address: value.trim() };
    case RRType.NS:
    case RRType.CNAME:
      return { kind: 'name', name: normalizeName(value.trim()) };
    case RRType.TXT:
      return { kind: 'txt', strings: parseTxtValue(value) };
    case RRType.SOA: {
      const f = value.trim().split(/\s+/);
      const n = f.slice(2).map(Number);
      if (f.length !== 7 || n.some((x) => !Number.isInteger(x))) return undefined;
      const [serial = 0, refresh = 0, retry = 0, expire = 0, minimum = 0] = n;
      return { kind: 'soa', mname: normalizeName(f[0] ?? ''), rname: normalizeName(f[1] ?? ''), serial, refresh, retry, expire, minimum };
    }
    default:
      return undefined;
  }
}

/** The wire records of a record set; values of unsupported types or bad form are left out. */
export function toRecords(set: RRset): ResourceRecord[] {
  const type = typeFromName(set.type);
  if (type === undefined) return [];
  return set.values.flatMap((value) => {
    const data = toRData(type, value);
    return data ? [{ name: normalizeName(set.name), type, class: 1, ttl: set.ttl, data }] : [];
  });
}

/** A source over fixed, in-memory zones (tests may mutate the map between queries). */
export function createMemorySource(zones: Map<string, RRset[]>): ZoneSource {
  return {
    zones: () => Promise.resolve([...zones.keys()]),
    rrsets: (zone) => Promise.resolve(zones.get(zone) ?? []),
  };
}

/** moto returns the SOA of a new zone as a Python dict's text, `{'Value': '...'}`: take the value out. */
function unwrapMotoValue(value: string): string {
  return /^\{'Value': '(.*)'\}$/.exec(value)?.[1] ?? value;
}

/**
 * `fn`, with concurrent calls coalesced: at most one runs at a time, and a caller gets the result of a run that
 * started after it asked (never an older one), shared with every caller that came while the previous run was on.
 * A burst of validations then costs a couple of emulator listings instead of one each.
 */
function coalesced<T>(fn: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  let next: Promise<T> | undefined;
  const start = (): Promise<T> => {
    const run = fn().finally(() => {
      if (running === run) running = undefined;
    });
    running = run;
    return run;
  };
  return () => {
    if (!running) return start();
    next ??= running.then(
      () => undefined,
      () => undefined,
    ).then(() => {
      next = undefined;
      return start();
    });
    return next;
  };
}

/**
 * A source reading moto's hosted zones and records through the Route53 API on every call (no caching; concurrent
 * calls share a listing that started after they asked, see {@link coalesced}). Several hosted zones of one name are merged.
 */
export function createMotoSource(options: { endpoint: string; region: string }): ZoneSource {
  const client = new Route53Client({
    endpoint: options.endpoint, region: options.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const listZones = coalesced(listZonesNow);
  const listings = new Map<string, () => Promise<RRset[]>>();
  async function listZonesNow(): Promise<{ id: string; name: string }[]> {
    const out: { id: string; name: string }[] = [];
    let marker: string | undefined;
    do {
      const page = await client.send(new ListHostedZonesCommand({ Marker: marker }));
      for (const z of page.HostedZones ?? []) if (z.Id && z.Name) out.push({ id: z.Id, name: normalizeName(z.Name) });
      marker = page.IsTruncated ? page.NextMarker : undefined;
    } while (marker);
    return out;
  }
  return {
    zones: async () => (await listZones()).map((z) => z.name),
    rrsets(zone) {
      let list = listings.get(zone);
      if (!list) {
        list = coalesced(() => rrsetsNow(zone));
        listings.set(zone, list);
      }
      return list();
    },
    close: () => Promise.resolve(client.destroy()),
  };

  async function rrsetsNow(zone: string): Promise<RRset[]> {
    const out: RRset[] = [];
    for (const { id } of (await listZones()).filter((z) => z.name === zone)) {
      let start: { name?: string; type?: R53Type; identifier?: string } | undefined = {};
      while (start) {
        const page: ListResourceRecordSetsCommandOutput = await client.send(new ListResourceRecordSetsCommand({
          HostedZoneId: id, StartRecordName: start.name, StartRecordType: start.type, StartRecordIdentifier: start.identifier,
        }));
        for (const set of page.ResourceRecordSets ?? []) {
          if (!set.Name || !set.Type || !set.ResourceRecords) continue; // alias records have no values
          const values = set.ResourceRecords.flatMap((r) => (r.Value ? [unwrapMotoValue(r.Value)] : []));
          out.push({ name: set.Name, type: set.Type, ttl: set.TTL ?? 300, values });
        }
        start = page.IsTruncated
          ? { name: page.NextRecordName, type: page.NextRecordType, identifier: page.NextRecordIdentifier }
          : undefined;
      }
    }
    return out;
  }
}
