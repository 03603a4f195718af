import { describe, it, expect } from 'vitest';
import type { Authorization } from 'acme-client';
import { chooseChallenge, issuerDomainNames, persistNeeds, persistRecordName, persistRecordValue } from '../../../src/acme/challenge-choice.js';

const dns01 = { type: 'dns-01', url: 'https://ca.test/chall/1', token: 't', status: 'pending' };
const persist = { type: 'dns-persist-01', url: 'https://ca.test/chall/2', status: 'pending', 'issuer-domain-names': ['CA.Example.', 'other.example'] };

function authz(challenges: object[], value = 'www.example.com', wildcard = false): Pick<Authorization, 'identifier' | 'challenges' | 'wildcard'> {
  return { identifier: { type: 'dns', value }, wildcard, challenges: challenges as Authorization['challenges'] };
}

describe('DNS-PERSIST-01 record', () => {
  it('is named _validation-persist.<name>, a wildcard under its base name', () => {
    expect(persistRecordName('WWW.example.com.')).toBe('_validation-persist.www.example.com');
    expect(persistRecordName('*.example.com')).toBe('_validation-persist.example.com');
  });

  it('holds the issuer and the account URL, and policy=wildcard only for a wildcard', () => {
    expect(persistRecordValue('ca.example', 'https://ca.example/acct/1', false)).toBe('ca.example; accounturi=https://ca.example/acct/1');
    expect(persistRecordValue('ca.example', 'https://ca.example/acct/1', true)).toBe('ca.example; accounturi=https://ca.example/acct/1; policy=wildcard');
  });

  it('gives an apex and its wildcard one record, the wildcard value', () => {
    const needs = persistNeeds(
      [
        { identifier: 'example.com', wildcard: false, issuerDomainName: 'ca.example' },
        { identifier: 'example.com', wildcard: true, issuerDomainName: 'ca.example' },
        { identifier: 'www.example.com', wildcard: false, issuerDomainName: 'ca.example' },
      ],
      'https://ca.example/acct/1',
    );
    expect(needs).toEqual([
      { fqdn: '_validation-persist.example.com', value: 'ca.example; accounturi=https://ca.example/acct/1; policy=wildcard' },
      { fqdn: '_validation-persist.www.example.com', value: 'ca.example; accounturi=https://ca.example/acct/1' },
    ]);
  });

  it('reads well-formed issuer-domain-names only', () => {
    expect(issuerDomainNames(persist)).toEqual(['ca.example', 'other.example']);
    expect(issuerDomainNames({ 'issuer-domain-names': 'ca.example' })).toEqual([]);
    expect(issuerDomainNames({ 'issuer-domain-names': [42, 'bad value;', 'ok.example'] })).toEqual(['ok.example']);
    expect(issuerDomainNames({})).toEqual([]);
  });
});

describe('challenge selection', () => {
  it('answers dns-01 by default, even when dns-persist-01 is offered', () => {
    expect(chooseChallenge(authz([persist, dns01]), 'dns-01', false)).toEqual({ type: 'dns-01', challenge: dns01 });
  });

  it('answers dns-persist-01 when asked and offered, with the first issuer domain name', () => {
    expect(chooseChallenge(authz([dns01, persist]), 'dns-persist-01', false)).toEqual({ type: 'dns-persist-01', challenge: persist, issuerDomainName: 'ca.example' });
  });

  it('falls back to dns-01 when the CA does not offer dns-persist-01, saying why', () => {
    const choice = chooseChallenge(authz([dns01]), 'dns-persist-01', false);
    expect(choice).toMatchObject({ type: 'dns-01', challenge: dns01, fallback: expect.stringContaining('does not offer') });
  });

  it('falls back when the challenge names no issuer', () => {
    const bare = { ...persist, 'issuer-domain-names': [] };
    expect(chooseChallenge(authz([dns01, bare]), 'dns-persist-01', false)).toMatchObject({ type: 'dns-01', fallback: expect.stringContaining('issuer') });
  });

  it('uses dns-persist-01 for a wildcard only with --allow-wildcard', () => {
    const wild = authz([dns01, persist], 'example.com', true);
    expect(chooseChallenge(wild, 'dns-persist-01', true)).toMatchObject({ type: 'dns-persist-01' });
    expect(chooseChallenge(wild, 'dns-persist-01', false)).toMatchObject({ type: 'dns-01', fallback: expect.stringContaining('--allow-wildcard') });
  });

  it('ignores challenge types it does not know, and malformed challenge lists', () => {
    const odd = [{ type: 'dns-account-01', url: 'u1' }, { type: 'future-99', url: 'u2', weird: { x: 1 } }, { url: 'u3' }];
    expect(chooseChallenge(authz([...odd, dns01]), 'dns-persist-01', false)).toMatchObject({ type: 'dns-01', challenge: dns01 });
    expect(chooseChallenge(authz(odd), 'dns-01', false)).toEqual({ type: 'none' });
    expect(chooseChallenge({ identifier: { type: 'dns', value: 'a.example' }, challenges: undefined as never }, 'dns-persist-01', false)).toEqual({ type: 'none' });
  });
});
