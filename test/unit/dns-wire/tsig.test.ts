import { describe, it, expect } from 'vitest';
import { isWhisperError } from '../../../src/errors.js';
import { signMessage, tsigAlgorithm, TSIG_ALGORITHMS, verifyResponse, type TsigKey } from '../../../src/dns/tsig.js';
import { buildUpdate, encodeMessage, RRType, txtData } from '../../../src/dns/wire.js';
import { decodeMessage } from '../../../src/dns/wire-decode.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

// Throwaway keys made with BIND's tsig-keygen for these vectors only.
const sha256Key: TsigKey = { name: 'tk', secret: 'CCWMTpk7k28dNjHICnvo4e+kTPdrx9d19PW1j53gIHw=' };
const md5Key: TsigKey = { name: 'k-hmac-md5', algorithm: 'hmac-md5', secret: 'uHnLPgYhEchvnLMd2ln6IQ==' };

/** Signed UPDATEs captured from BIND 9.18's nsupdate. */
const nsupdate = {
  sha256: hex(
    'd52928000001000000020001076578616d706c65047465737400000600010f5f61636d652d6368616c6c656e676503777777076578616d706c6504746573' +
      '7400001000010000003c000d0c766563746f722d76616c7565c01e001000fe00000000000a096f6c642d76616c756502746b0000fa00ff00000000003d0b' +
      '686d61632d7368613235360000006b04a48e012c0020ebf226d4ee91df61a1eb4b2dbade79e7b249c40eb0a9d84ca133a3a094408027d52900000000',
  ),
  md5: hex(
    'e96e28000001000000010001076578616d706c65047465737400000600010f5f61636d652d6368616c6c656e676503777777076578616d706c6504746573' +
      '7400001000010000003c000a096d64352d76616c75650a6b2d686d61632d6d64350000fa00ff00000000003a08686d61632d6d6435077369672d616c6703' +
      '72656703696e740000006b04a496012c0010ca7d642f0c2eabc627c8030f9505422fe96e00000000',
  ),
};

/** Our signed UPDATEs (request MAC) and the signed answers of a real named 9.18 that accepted them. */
const named = {
  sha256: {
    key: sha256Key,
    requestMac: hex('e2406252b909b8d6ff448efab16a9d0193d2800c752d66779d2571baf9d58251'),
    response: hex(
      '1234a8000001000000000001076578616d706c650474657374000006000102746b0000fa00ff00000000003d0b686d61632d7368613235360000006b04a4' +
        'a3012c0020717b7a886e26a1f4cca30613e2317c89851e8bb2dd489dfcb13cb7fdb66520f7123400000000',
    ),
  },
  md5: {
    key: md5Key,
    requestMac: hex('45dda947def6594cc60e0cdd5f5ac043'),
    response: hex(
      '1234a8000001000000000001076578616d706c65047465737400000600010a6b2d686d61632d6d64350000fa00ff00000000003a08686d61632d6d6435' +
        '077369672d616c670372656703696e740000006b04a4a3012c00106fd7b48f491694cad4ff289ea1c6bff2123400000000',
    ),
  },
};
const namedTime = 0x6b04a4a3 * 1000;

/** The message as it was before the TSIG record was added, and the TSIG's time and MAC. */
function unsign(packet: Buffer): { body: Buffer; time: number; mac: Buffer } {
  const msg = decodeMessage(packet);
  const tsig = msg.additionals.at(-1)?.data;
  if (msg.tsigOffset === undefined || tsig?.kind !== 'tsig') throw new Error('not signed');
  const body = Buffer.from(packet.subarray(0, msg.tsigOffset));
  body.writeUInt16BE(body.readUInt16BE(10) - 1, 10);
  return { body, time: tsig.timeSigned * 1000, mac: tsig.mac };
}

function thrown(fn: () => void): Error & { code?: string; retryable?: boolean } {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

describe('signMessage', () => {
  for (const [alg, packet, key] of [['hmac-sha256', nsupdate.sha256, sha256Key], ['hmac-md5', nsupdate.md5, md5Key]] as const) {
    it(`produces the same ${alg} MAC and TSIG record as nsupdate`, () => {
      const { body, time, mac } = unsign(packet);
      const signed = signMessage(body, key, { now: () => time + 999 });
      expect(signed.mac.toString('hex')).toBe(mac.toString('hex'));
      expect(signed.wire.toString('hex')).toBe(packet.toString('hex'));
    });
  }

  it('appends a TSIG record and counts it in ARCOUNT', () => {
    const wire = encodeMessage(buildUpdate({ id: 9, zone: 'z.test', add: [{ name: 'a.z.test', type: RRType.TXT, data: txtData('v') }] }));
    const signed = signMessage(wire, { name: 'Key.Name.', algorithm: 'hmac-sha512', secret: sha256Key.secret }, { now: () => 1_700_000_000_500, fudge: 60 });
    const msg = decodeMessage(signed.wire);
    expect(msg.additionals).toHaveLength(1);
    expect(msg.tsigOffset).toBe(wire.length);
    expect(msg.additionals[0]).toMatchObject({ name: 'Key.Name', type: RRType.TSIG, class: 255, ttl: 0 });
    expect(msg.additionals[0]?.data).toMatchObject({ kind: 'tsig', algorithm: 'hmac-sha512', timeSigned: 1_700_000_000, fudge: 60, originalId: 9, error: 0 });
    expect(signed.mac).toHaveLength(64);
  });

  it('knows the six algorithms and rejects others as a configuration error', () => {
    expect(TSIG_ALGORITHMS).toEqual(['hmac-sha256', 'hmac-sha512', 'hmac-sha384', 'hmac-sha224', 'hmac-sha1', 'hmac-md5']);
    expect(tsigAlgorithm().wireName).toBe('hmac-sha256');
    expect(tsigAlgorithm('HMAC-MD5.SIG-ALG.REG.INT.').wireName).toBe('hmac-md5.sig-alg.reg.int');
    const err = thrown(() => tsigAlgorithm('hmac-sha3'));
    expect(isWhisperError(err, 'CONFIG_INVALID')).toBe(true);
    expect(err.message).toContain('hmac-sha3');
  });

  it('rejects an empty secret without printing it', () => {
    const err = thrown(() => signMessage(Buffer.alloc(12), { name: 'k', secret: '' }));
    expect(isWhisperError(err, 'CONFIG_INVALID')).toBe(true);
  });
});

describe('verifyResponse', () => {
  for (const [alg, v] of Object.entries(named)) {
    it(`accepts the ${alg}-signed answer of a real named`, () => {
      const msg = decodeMessage(v.response);
      expect(() => verifyResponse(v.response, msg, v.key, v.requestMac, { now: () => namedTime })).not.toThrow();
    });
  }

  it('rejects a tampered answer, another request MAC and another secret', () => {
    const { response, requestMac, key } = named.sha256;
    const tampered = Buffer.from(response);
    tampered[3] = 0x05; // rcode REFUSED instead of NOERROR
    const now = { now: () => namedTime };
    expect(thrown(() => verifyResponse(tampered, decodeMessage(tampered), key, requestMac, now)).message).toMatch(/MAC of the response does not verify/);
    const otherMac = Buffer.from(requestMac);
    otherMac[0] = (otherMac[0] ?? 0) ^ 1;
    expect(() => verifyResponse(response, decodeMessage(response), key, otherMac, now)).toThrow(/does not verify/);
    const otherKey = { ...key, secret: md5Key.secret };
    expect(() => verifyResponse(response, decodeMessage(response), otherKey, requestMac, now)).toThrow(/does not verify/);
  });

  it('rejects an answer signed too long ago, as retryable', () => {
    const { response, requestMac, key } = named.sha256;
    const err = thrown(() => verifyResponse(response, decodeMessage(response), key, requestMac, { now: () => namedTime + 301_000 }));
    expect(err.message).toMatch(/301s off \(fudge 300s\)/);
    expect(err.retryable).toBe(true);
  });

  it('rejects an unsigned answer and one signed with another key', () => {
    const { response, requestMac, key } = named.sha256;
    const msg = decodeMessage(response);
    const unsigned = Buffer.from(response.subarray(0, msg.tsigOffset));
    unsigned.writeUInt16BE(0, 10);
    expect(() => verifyResponse(unsigned, decodeMessage(unsigned), key, requestMac)).toThrow(/not TSIG-signed/);
    expect(() => verifyResponse(response, msg, { ...key, name: 'other' }, requestMac)).toThrow(/signed with key tk/);
    expect(() => verifyResponse(response, msg, { ...key, algorithm: 'hmac-sha512' }, requestMac)).toThrow(/expected tk/);
  });

  it('reports the TSIG error when the server rejected our signature', () => {
    const request = encodeMessage(buildUpdate({ id: 5, zone: 'z.test' }));
    const { mac } = signMessage(request, sha256Key, { now: () => namedTime });
    // What named answers to a bad MAC: NOTAUTH, a TSIG with error BADSIG and no MAC.
    const answer = decodeMessage(request);
    const wire = encodeMessage({
      ...answer, qr: true, rcode: 9,
      additionals: [{ name: 'tk', type: RRType.TSIG, class: 255, ttl: 0, data: { kind: 'tsig', algorithm: 'hmac-sha256', timeSigned: 1, fudge: 300, mac: Buffer.alloc(0), originalId: 5, error: 16, other: Buffer.alloc(0) } }],
    });
    const err = thrown(() => verifyResponse(wire, decodeMessage(wire), sha256Key, mac, { now: () => namedTime }));
    expect(isWhisperError(err, 'DNS_PROVIDER')).toBe(true);
    expect(err.message).toBe('server rejected the TSIG signature of key tk: BADSIG');
    expect(err.message).not.toContain(sha256Key.secret);
  });

  it('verifies what signMessage signs as a server, for every algorithm', () => {
    for (const algorithm of TSIG_ALGORITHMS) {
      const key = { name: 'k', algorithm, secret: sha256Key.secret };
      const request = signMessage(encodeMessage(buildUpdate({ id: 77, zone: 'z.test' })), key, { now: () => namedTime });
      const answer = encodeMessage({ ...decodeMessage(encodeMessage(buildUpdate({ id: 77, zone: 'z.test' }))), qr: true });
      const signed = signMessage(answer, key, { now: () => namedTime, requestMac: request.mac });
      expect(() => verifyResponse(signed.wire, decodeMessage(signed.wire), key, request.mac, { now: () => namedTime })).not.toThrow();
      expect(() => verifyResponse(signed.wire, decodeMessage(signed.wire), key, Buffer.alloc(request.mac.length), { now: () => namedTime })).toThrow(/does not verify/);
    }
  });
});
