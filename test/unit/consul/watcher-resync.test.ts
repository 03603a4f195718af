import { describe, it, expect } from 'vitest';
import { CatalogWatcher, type CatalogChange } from '../../../src/consul/watcher.js';
import { WhisperError } from '../../../src/errors.js';
import type { ConsulApi } from '../../../src/consul/api.js';
import { fakeClock, scriptedApi, type Step } from './fakes.js';

/*
 * A Consul agent restarted empty can climb back to the index the watcher holds before the watcher reads it again,
 * with another catalog (issue 13, item 4). A non-blocking read (the first after a failure or a closed connection)
 * must therefore be compared with the catalog held, whatever its index.
 */

const unavailable = () => new WhisperError('CONSUL_UNAVAILABLE', 'Consul at consul:8500 unreachable', { retryable: true });

/** Runs a watcher over a script until the script is used up; `onQuery` may change what the API reports. */
async function run(steps: Step[], options: { onQuery?: (index: number) => void; closed?: () => number } = {}) {
  const { api, queries, drained } = scriptedApi(steps, (q) => options.onQuery?.(q.index ?? 0));
  const clock = fakeClock();
  const changes: CatalogChange[] = [];
  const closedConnections = options.closed;
  const watcher = new CatalogWatcher({
    api: closedConnections ? ({ ...api, closedConnections } satisfies ConsulApi) : api,
    wait: '5m',
    sleep: clock.sleep,
    now: clock.now,
    random: () => 0.5,
    onChange: (c) =>
      void changes.push({ services: new Map(c.services), changed: new Set(c.changed), removed: new Set(c.removed), reset: c.reset }),
  });
  const ac = new AbortController();
  const running = watcher.run(ac.signal);
  await drained;
  ac.abort();
  await running;
  return { changes, queries: queries.map((q) => q.index) };
}

const summary = (c: CatalogChange) => ({ changed: [...c.changed].sort(), removed: [...c.removed].sort(), reset: c.reset });

describe('CatalogWatcher: a re-read at the index it holds', () => {
  it('reports a service that appeared on an agent which came back, after a failure, at the same index', async () => {
    const { changes, queries } = await run([{ index: 10, services: { a: [] } }, unavailable(), { index: 10, services: { a: [], b: ['x=1'] } }]);
    expect(queries).toEqual([0, 10, 0, 10]);
    expect(changes.map(summary)).toEqual([
      { changed: ['a'], removed: [], reset: false },
      { changed: ['b'], removed: [], reset: false },
    ]);
    expect(changes[1]!.services.get('b')).toEqual(['x=1']);
  });

  it('reports services gone and re-tagged in that re-read too', async () => {
    const { changes } = await run([
      { index: 10, services: { a: ['1'], b: [], c: [] } },
      unavailable(),
      unavailable(),
      { index: 10, services: { a: ['2'], b: [] } },
    ]);
    expect(changes.map(summary)).toEqual([
      { changed: ['a', 'b', 'c'], removed: [], reset: false },
      { changed: ['a'], removed: ['c'], reset: false },
    ]);
  });

  it('reports a service that appeared when the re-read follows a closed connection (no failed query)', async () => {
    let closed = 0;
    const { changes, queries } = await run(
      [
        { index: 10, services: { a: [] } },
        // Blocking on 10: the agent stops and closes its connections; the fresh one answers at 10 with b.
        { index: 10, services: { a: [] } },
        { index: 10, services: { a: [], b: [] } },
      ],
      { onQuery: (index) => void (index === 10 && (closed = 1)), closed: () => closed },
    );
    expect(queries).toEqual([0, 10, 0, 10]);
    expect(changes.map(summary)).toEqual([
      { changed: ['a'], removed: [], reset: false },
      { changed: ['b'], removed: [], reset: false },
    ]);
  });

  it('still ignores a blocking answer at the same index (its wait expired), whatever it holds', async () => {
    const { changes, queries } = await run([
      { index: 10, services: { a: [] } },
      { index: 10, services: { a: [], b: [] } },
    ]);
    expect(queries).toEqual([0, 10, 10]);
    expect(changes.map(summary)).toEqual([{ changed: ['a'], removed: [], reset: false }]);
  });
});
