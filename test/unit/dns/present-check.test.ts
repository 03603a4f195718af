import { describe, it, expect } from 'vitest';
import { missingRecords } from '../../../src/dns/present-check.js';
import type { TxtQuery } from '../../../src/dns/propagation.js';

const a = { fqdn: '_validation-persist.a.example.com', value: 'ca.example; accounturi=https://ca.example/acct/1', persistent: true };
const b = { fqdn: '_validation-persist.b.example.com', value: 'ca.example; accounturi=https://ca.example/acct/1', persistent: true };

describe('missingRecords', () => {
  it('keeps a record missing unless every server answers its value', async () => {
    const answers: Record<string, Record<string, string[]>> = {
      'ns1:53': { [a.fqdn]: [a.value, 'other'], [b.fqdn]: [b.value] },
      'ns2:53': { [a.fqdn]: [a.value], [b.fqdn]: ['ca.example; accounturi=https://ca.example/acct/OLD'] },
    };
    const queryTxt: TxtQuery = async (server, name) => answers[server]?.[name] ?? [];
    expect(await missingRecords([a, b], { servers: ['ns1:53', 'ns2:53'], queryTxt })).toEqual([b]);
  });

  it('counts a server that cannot be asked as missing (presenting again is safe)', async () => {
    const queryTxt: TxtQuery = async (server) => {
      if (server === 'down:53') throw Object.assign(new Error('timeout'), { code: 'ETIMEOUT' });
      return [a.value];
    };
    expect(await missingRecords([a], { servers: ['up:53', 'down:53'], queryTxt })).toEqual([a]);
    expect(await missingRecords([a], { servers: ['up:53'], queryTxt })).toEqual([]);
  });

  it('asks the provider\'s own servers when no resolver is given', async () => {
    const asked: string[] = [];
    const queryTxt: TxtQuery = async (server) => (asked.push(server), [a.value]);
    expect(await missingRecords([a], { nameservers: async () => ['own:53'], queryTxt })).toEqual([]);
    expect(asked).toEqual(['own:53']);
  });
});
