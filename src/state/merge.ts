import type { BudgetEvent } from '../limits/replay.js';

function eventKey(e: BudgetEvent): string {
  switch (e.type) {
    case 'order':
      return `o ${e.at} ${e.names.join(',')}`;
    case 'authzFailure':
      return `a ${e.at} ${e.identifier}`;
    case 'rateLimited':
      return `r ${e.at} ${e.until} ${e.names.join(',')}`;
  }
}

/**
 * The union of two budget histories, in time order. The history only ever grows (old events are pruned by age), so
 * two copies of it, a state file and Consul KV's, merge without losing what either saw.
 */
export function mergeBudget(a: readonly BudgetEvent[], b: readonly BudgetEvent[]): BudgetEvent[] {
  const byKey = new Map<string, BudgetEvent>();
  for (const e of [...a, ...b]) byKey.set(eventKey(e), e);
  return [...byKey.values()].sort((x, y) => x.at - y.at);
}
