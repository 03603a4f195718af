import { createHmac, timingSafeEqual } from 'node:crypto';
import { WhisperError } from '../errors.js';
import { encodeName, encodeRecord, rcodeName, RRClass, RRType, type DecodedMessage } from './wire.js';

/** A TSIG key (RFC 8945) as BIND's `tsig-keygen` prints it. */
export interface TsigKey {
  /** Key name, e.g. `whisper-key`. */
  readonly name: string;
  /** Algorithm: hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224, hmac-sha1 or hmac-md5. @default 'hmac-sha256' */
  readonly algorithm?: string;
  /** The shared secret, base64. Never log it. */
  readonly secret: string;
}

/** Options of {@link signMessage} and {@link verifyResponse}. */
export interface TsigClockOptions {
  /** Current time in milliseconds since the epoch. @default Date.now */
  readonly now?: () => number;
  /** Allowed clock difference in seconds. @default 300 */
  readonly fudge?: number;
}

/** Options of {@link signMessage}. */
export interface SignOptions extends TsigClockOptions {
  /** When signing a response (a server's role, used by test servers): the MAC of the request. */
  readonly requestMac?: Buffer;
}

/** A signed message and the MAC to pass to {@link verifyResponse}. */
export interface SignedMessage {
  readonly wire: Buffer;
  readonly mac: Buffer;
}

const algorithms: Readonly<Record<string, { readonly wireName: string; readonly hash: string }>> = {
  'hmac-sha256': { wireName: 'hmac-sha256', hash: 'sha256' },
  'hmac-sha512': { wireName: 'hmac-sha512', hash: 'sha512' },
  'hmac-sha384': { wireName: 'hmac-sha384', hash: 'sha384' },
  'hmac-sha224': { wireName: 'hmac-sha224', hash: 'sha224' },
  'hmac-sha1': { wireName: 'hmac-sha1', hash: 'sha1' },
  'hmac-md5': { wireName: 'hmac-md5.sig-alg.reg.int', hash: 'md5' },
};

/** The supported algorithm names (as configured; hmac-md5 goes on the wire as `hmac-md5.sig-alg.reg.int`). */
export const TSIG_ALGORITHMS: readonly string[] = Object.keys(algorithms);

/** The wire name and hash of a configured algorithm; throws `CONFIG_INVALID` for an unknown one. */
export function tsigAlgorithm(name = 'hmac-sha256'): { readonly wireName: string; readonly hash: string } {
  const key = name.toLowerCase().replace(/\.$/, '').replace(/\.sig-alg\.reg\.int$/, '');
  const alg = algorithms[key];
  if (!alg) {
    throw new WhisperError('CONFIG_INVALID', `unknown TSIG algorithm ${JSON.stringify(name)} (known: ${TSIG_ALGORITHMS.join(', ')})`);
  }
  return alg;
}

function secretBytes(key: TsigKey): Buffer {
  const secret = Buffer.from(key.secret, 'base64');
  if (secret.length === 0) throw new WhisperError('CONFIG_INVALID', `TSIG key ${key.name} has an empty or non-base64 secret`);
  return secret;
}

function macPrefix(requestMac: Buffer): Buffer {
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(requestMac.length);
  return prefix;
}

/** The TSIG variables (RFC 8945 4.3.3) that follow the message in the MAC input. */
function variables(keyName: string, wireAlg: string, timeSigned: number, fudge: number, error: number, other: Buffer): Buffer {
  const fixed = Buffer.alloc(2 + 4);
  fixed.writeUInt16BE(RRClass.ANY, 0); // TTL (0) stays zero
  const tail = Buffer.alloc(6 + 2 + 2 + 2);
  tail.writeUIntBE(timeSigned, 0, 6);
  tail.writeUInt16BE(fudge, 6);
  tail.writeUInt16BE(error, 8);
  tail.writeUInt16BE(other.length, 10);
  return Buffer.concat([encodeName(keyName.toLowerCase()), fixed, encodeName(wireAlg.toLowerCase()), tail, other]);
}

/**
 * Signs an encoded message: appends a TSIG record (RFC 8945) and increments ARCOUNT.
 * The message must not already carry a TSIG record.
 */
export function signMessage(wire: Buffer, key: TsigKey, options: SignOptions = {}): SignedMessage {
  if (wire.length < 12) throw new WhisperError('DNS_PROVIDER', 'cannot sign a DNS message shorter than its header');
  const alg = tsigAlgorithm(key.algorithm);
  const fudge = options.fudge ?? 300;
  const timeSigned = Math.floor((options.now ?? Date.now)() / 1000);
  const hmac = createHmac(alg.hash, secretBytes(key));
  if (options.requestMac) hmac.update(macPrefix(options.requestMac)).update(options.requestMac);
  const mac = hmac
    .update(wire)
    .update(variables(key.name, alg.wireName, timeSigned, fudge, 0, Buffer.alloc(0)))
    .digest();
  const rr = encodeRecord({
    name: key.name, type: RRType.TSIG, class: RRClass.ANY, ttl: 0,
    data: {
      kind: 'tsig', algorithm: alg.wireName, timeSigned, fudge, mac,
      originalId: wire.readUInt16BE(0), error: 0, other: Buffer.alloc(0),
    },
  });
  const out = Buffer.concat([wire, rr]);
  out.writeUInt16BE(wire.readUInt16BE(10) + 1, 10);
  return { wire: out, mac };
}

/**
 * Verifies the TSIG of a response to a request signed with `requestMac` (RFC 8945 5.3).
 * Throws `WhisperError('DNS_PROVIDER')` when the response is unsigned, signed with another key,
 * carries a TSIG error (the server rejected our signature: BADSIG, BADKEY, BADTIME), has a wrong MAC,
 * or was signed outside the allowed clock difference.
 */
export function verifyResponse(
  response: Buffer,
  decoded: DecodedMessage,
  key: TsigKey,
  requestMac: Buffer,
  options: TsigClockOptions = {},
): void {
  const last = decoded.additionals.at(-1);
  if (decoded.tsigOffset === undefined || last?.data.kind !== 'tsig') {
    throw new WhisperError('DNS_PROVIDER', `response (${rcodeName(decoded.rcode)}) is not TSIG-signed but the request was signed with key ${key.name}`);
  }
  const tsig = last.data;
  const alg = tsigAlgorithm(key.algorithm);
  if (last.name.toLowerCase() !== key.name.toLowerCase().replace(/\.$/, '') || tsig.algorithm.toLowerCase() !== alg.wireName) {
    throw new WhisperError('DNS_PROVIDER', `response is signed with key ${last.name} (${tsig.algorithm}), expected ${key.name}`);
  }
  if (tsig.error !== 0) {
    throw new WhisperError('DNS_PROVIDER', `server rejected the TSIG signature of key ${key.name}: ${rcodeName(tsig.error)}`, {
      retryable: tsig.error === 18, // BADTIME: clocks may be resynchronised
    });
  }
  const body = Buffer.from(response.subarray(0, decoded.tsigOffset));
  body.writeUInt16BE(tsig.originalId, 0);
  body.writeUInt16BE(body.readUInt16BE(10) - 1, 10);
  const expected = createHmac(alg.hash, secretBytes(key))
    .update(macPrefix(requestMac))
    .update(requestMac)
    .update(body)
    .update(variables(key.name, alg.wireName, tsig.timeSigned, tsig.fudge, tsig.error, tsig.other))
    .digest();
  if (tsig.mac.length !== expected.length || !timingSafeEqual(tsig.mac, expected)) {
    throw new WhisperError('DNS_PROVIDER', `TSIG MAC of the response does not verify with key ${key.name}`);
  }
  const now = Math.floor((options.now ?? Date.now)() / 1000);
  if (Math.abs(now - tsig.timeSigned) > tsig.fudge) {
    throw new WhisperError('DNS_PROVIDER', `TSIG time of the response is ${now - tsig.timeSigned}s off (fudge ${tsig.fudge}s)`, {
      retryable: true,
    });
  }
}
