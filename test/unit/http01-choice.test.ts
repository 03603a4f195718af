import { describe, it, expect } from 'vitest';
import type { Authorization } from 'acme-client';
import { chooseChallenge } from '../../src/acme/challenge-choice.js';

const dns01 = { type: 'dns-01', url: 'https://ca.test/chall/1', token: 't', status: 'pending' };
const http01 = { type: 'http-01', url: 'https://ca.test/chall/2', token: 'u', status: 'pending' };

function authz(challenges: object[], value = 'www.example.com', wildcard = false): Pick<Authorization, 'identifier' | 'challenges' | 'wildcard'> {
  return { identifier: { type: 'dns', value }, wildcard, challenges: challenges as Authorization['challenges'] };
}

describe('chooseChallenge with http-01', () => {
  it('takes http-01 when offered, and never falls back to a DNS challenge', () => {
    expect(chooseChallenge(authz([dns01, http01]), 'http-01', false)).toEqual({ type: 'http-01', challenge: http01 });
    expect(chooseChallenge(authz([dns01]), 'http-01', false)).toEqual({ type: 'none' });
  });

  it('never answers a wildcard with http-01, even when (wrongly) offered', () => {
    expect(chooseChallenge(authz([dns01, http01], 'example.com', true), 'http-01', true)).toEqual({ type: 'none' });
    expect(chooseChallenge(authz([dns01, http01], '*.example.com'), 'http-01', true)).toEqual({ type: 'none' });
  });

  it('leaves dns-01 orders on dns-01 when http-01 is offered too', () => {
    expect(chooseChallenge(authz([http01, dns01]), 'dns-01', false)).toEqual({ type: 'dns-01', challenge: dns01 });
  });
});
