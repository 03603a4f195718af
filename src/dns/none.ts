import { WhisperError } from '../errors.js';
import type { DnsProvider, TxtRecord } from './provider.js';

/**
 * `--dns-provider none`: writes no DNS. Meant for `--challenge dns-persist-01` with records the operator made (see
 * `whisper-ts dns-persist`): an order only reaches `present` when a persistent record is missing, and the error
 * then names each record and value to create. A dns-01 record cannot be made by hand in time: a clear error.
 */
export function createNoneProvider(): DnsProvider {
  return {
    name: 'none',
    present(records: readonly TxtRecord[]): Promise<void> {
      const challenge = records.filter((r) => r.persistent !== true);
      if (challenge.length > 0) {
        // The dns-01 values stay out of the message: secrets until validated.
        const names = challenge.map((r) => r.fqdn).join(', ');
        return Promise.reject(
          new WhisperError('DNS_PROVIDER', `--dns-provider none cannot publish dns-01 records (${names}): use --challenge dns-persist-01 with the records in place, or a DNS provider`),
        );
      }
      // Retryable: the next try succeeds once the operator has created the records.
      const wanted = records.map((r) => `${r.fqdn}. TXT "${r.value}"`).join('; ');
      return Promise.reject(new WhisperError('DNS_PROVIDER', `--dns-provider none: create the DNS-PERSIST-01 record(s) ${wanted}`, { retryable: true }));
    },
    // Nothing was written, nothing to remove (orphan clean-up at start calls this too).
    cleanUp: () => Promise.resolve(),
  };
}
