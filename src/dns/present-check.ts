import { WhisperError } from '../errors.js';
import { createTxtQuery, serversFor, type PropagationOptions } from './propagation.js';
import type { TxtRecord } from './provider.js';

/**
 * The records not yet in place: a record is in place when every server {@link serversFor} names (the zone's
 * authoritative ones by default) answers its value. A server that cannot be asked counts as missing: presenting
 * again is an upsert, safe to repeat. Used for DNS-PERSIST-01 records, which are written once and then only checked.
 */
export async function missingRecords(
  records: readonly TxtRecord[],
  options: Pick<PropagationOptions, 'servers' | 'nameservers' | 'queryTxt' | 'nsLookups' | 'signal'> = {},
): Promise<TxtRecord[]> {
  const queryTxt = options.queryTxt ?? createTxtQuery();
  const checks = records.map(async (record) => {
    try {
      const servers = await serversFor(record.fqdn, options);
      const answers = await Promise.all(servers.map((s) => queryTxt(s, record.fqdn, options.signal)));
      return servers.length > 0 && answers.every((values) => values.includes(record.value));
    } catch (err) {
      if (err instanceof WhisperError && err.code === 'ABORTED') throw err;
      if (options.signal?.aborted) throw new WhisperError('ABORTED', 'DNS record check aborted', { cause: err });
      return false;
    }
  });
  const present = await Promise.all(checks);
  return records.filter((_, i) => !present[i]);
}
