/**
 * The soak run at full size: `npx tsx bench/soak.ts [--out <file>]` (or `bench/run.sh --soak`). 20 services with
 * certificates of two minutes, three generations, kept by three instances under `--ha` while the Consul agent
 * restarts empty, the CA is down for 20 s and the leader is killed. Writes the figures between the soak markers
 * of bench/README.md (or `--out`); test/integration/soak.test.ts runs the same at a small size.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { startTestEnv } from '../test/support/test-env.js';
import { runSoak } from './lib/soak.js';

const outArg = process.argv.indexOf('--out');
const out = outArg > 0 ? resolve(process.argv[outArg + 1]!) : resolve(import.meta.dirname, 'README.md');
const START = '<!-- soak:start -->';
const END = '<!-- soak:end -->';
const say = (m: string) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${m}`);

const running = await startTestEnv();
let code = 0;
try {
  const options = { services: 20, validitySeconds: 120, generations: 3, instances: 3, outageMs: 20_000, faults: true };
  const r = await runSoak(running.env, options, say);
  const ok = r.expiredGaps.length === 0 && r.ordersAtCa <= r.issued + r.retriesShown;
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const lines = [
    START,
    `Run of ${new Date().toISOString().slice(0, 10)}, ${process.version}: ${options.services} services, certificates of ${options.validitySeconds} s, ` +
      `${options.instances} instances (\`--ha --store consul\`), until every certificate reached generation ${options.generations}; ` +
      `on the way: ${r.faultsDone.join(', ')}. ${secs(r.durationMs)} in all.`,
    '',
    '| measure | result |',
    '|---|---|',
    `| certificates renewed before they expired | ${r.expiredGaps.length === 0 ? 'all' : `**no**: ${r.expiredGaps.length} moments without a valid certificate`} (least time left at a renewal: ${secs(r.minMarginMs)}) |`,
    `| generations reached (least per name) | ${r.generations} |`,
    `| orders the CA created | ${r.ordersAtCa} (≤ ${r.issued} certificates seen + ${r.retriesShown} orders the instances logged without a certificate: ${r.ordersAtCa <= r.issued + r.retriesShown ? 'yes' : '**no**'}) |`,
    `| of them ARI renewals (\`replaces\`, exempt) | ${r.exemptOrders} |`,
    `| the budget's books (orders counted against the limits) | ${r.budgetOrders}, the CA's non-exempt orders ${r.ordersAtCa - r.exemptOrders} |`,
    `| leader takeover after \`kill -9\` | ${r.takeoverMs === undefined ? 'not measured' : secs(r.takeoverMs)} |`,
    END,
  ];
  const doc = await readFile(out, 'utf8').catch(() => `${START}\n${END}\n`);
  const [head, rest] = doc.includes(START) ? [doc.slice(0, doc.indexOf(START)), doc.slice(doc.indexOf(END) + END.length)] : [`${doc.trimEnd()}\n\n## Soak\n\n`, '\n'];
  await writeFile(out, `${head}${lines.join('\n')}${rest}`);
  say(`written to ${out}`);
  if (!ok) code = 1;
} catch (err) {
  console.error(err);
  code = 1;
} finally {
  await running.stop();
}
process.exit(code);
