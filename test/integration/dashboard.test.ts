import { describe, it, expect, inject } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'puppeteer-core';
import { createZone } from '../support/certs.js';
import { withChromium } from '../support/chromium.js';
import { freePort } from '../support/ports.js';
import { envArgs, eventually, fileOnce, registerService, startWhisper, uniq, cleanupAfterAll } from '../support/whisper.js';
import type { CertificateView } from '../../src/ops/types.js';
import type { HistoryRow } from '../../src/history/types.js';
import '../support/env-types.js';

const env = inject('env');
const { running, dirs } = cleanupAfterAll();

/** The screenshot the README shows, rewritten by every run of this test. */
const SCREENSHOT = resolve(import.meta.dirname, '../../docs/dashboard.png');
const TOKEN = `dashboard-${uniq()}-0123456789abcdef`;
/** Orders against Pebble take seconds; the page then follows the event stream (and re-reads every minute). */
const WAIT_MS = 90_000;
/** In the `domainBlocklist` of the test Pebble: its new-order is refused with `rejectedIdentifier`. */
const BLOCKED = 'blocked-domain.example';

/** Clicks in the page itself: the table is redrawn as events arrive, so a handle taken earlier may be gone. */
async function click(page: Page, selector: string): Promise<void> {
  await page.waitForSelector(selector, { timeout: WAIT_MS });
  await page.$eval(selector, (el) => (el as unknown as { click(): void }).click());
}

function rowSerial(page: Page, id: string): Promise<string> {
  return page.$eval(`table#certificates tbody tr[data-id="${id}"] [data-serial]`, (el) => el.getAttribute('data-serial') ?? '');
}

describe('dashboard (real daemon, headless Chromium)', () => {
  it('lists the issued certificates, renews one from the page, and refuses an action without the token', async () => {
    const zone = `dash${uniq()}.whisper.test`;
    await createZone(env, zone);
    const base = await mkdtemp(join(tmpdir(), 'whisper-dashboard-'));
    dirs.push(base);
    const folder = join(base, 'certs');
    const tokenFile = join(base, 'admin-token');
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const w = startWhisper([folder, ...envArgs(env), '--dns-provider', 'route53', '--route53-endpoint', env.route53.endpoint,
      '--allow-domain', zone, '--listen', `127.0.0.1:${port}`, '--admin-token-file', tokenFile,
      // A name on Pebble's blocklist: a failure with the CA's problem document for the "Last failures" panel.
      '--static-domains', BLOCKED, '--allow-domain', BLOCKED]);
    running.push(w);

    const ids = [`web-${uniq()}.${zone}`, `api-${uniq()}.${zone}`];
    for (const id of ids) await registerService(env, id.slice(0, id.indexOf('.')), [`dns=${zone}`, 'ssl=offloading']);
    for (const id of ids) await eventually(id, () => fileOnce(join(folder, `${id}.pem`)), WAIT_MS);
    const before = await eventually('both certificates in the API', async () => {
      const r = await fetch(`${url}/api/certificates`).catch(() => undefined);
      if (r?.status !== 200) return undefined;
      const { certificates } = (await r.json()) as { certificates: CertificateView[] };
      const found = ids.map((id) => certificates.find((c) => c.id === id && c.serial));
      return found.every((c) => c !== undefined) ? (found as CertificateView[]) : undefined;
    }, WAIT_MS);
    const [renewed] = ids as [string, string];
    const oldSerial = before[0]!.serial!;

    await withChromium(async (browser) => {
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (err) => pageErrors.push(String(err)));
      // A violation of the page's policy (an inline style, a foreign URL) shows as a console error.
      page.on('console', (m) => void (m.type() === 'error' && /Content.Security.Policy/i.test(m.text()) && pageErrors.push(m.text())));
      await page.setViewport({ width: 1280, height: 900 });
      await page.goto(`${url}/`);
      for (const id of ids) await page.waitForSelector(`table#certificates tbody tr[data-id="${id}"]`, { timeout: WAIT_MS });
      expect(await rowSerial(page, renewed)).toBe(oldSerial);
      await page.waitForSelector('#live[data-state="live"]', { timeout: WAIT_MS });
      // The refused order, with the CA's problem type and detail.
      await page.waitForSelector(`#failures li[data-cert="${BLOCKED}"]`, { timeout: WAIT_MS });
      const failure = await page.$eval(`#failures li[data-cert="${BLOCKED}"]`, (el) => el.textContent ?? '');
      expect(failure).toContain('rejectedIdentifier');
      expect(failure).toContain(BLOCKED);

      // Without the token: the server answers 401 and the page shows its message.
      const refusedAnswer = page.waitForResponse((r) => r.url().endsWith(`/api/certificates/${renewed}/renew`) && r.request().method() === 'POST');
      await click(page, `button[data-action="renew"][data-id="${renewed}"]`);
      expect((await refusedAnswer).status()).toBe(401);
      await page.waitForSelector('#notice[data-kind="error"]', { timeout: WAIT_MS });
      expect(await page.$eval('#notice', (el) => el.textContent)).toContain('actions need the admin token');

      // With the token: accepted, then the row shows the new certificate and the history both events.
      await page.type('#token', TOKEN);
      await click(page, '#token-save');
      const accepted = page.waitForResponse((r) => r.url().endsWith(`/api/certificates/${renewed}/renew`) && r.request().method() === 'POST');
      await click(page, `button[data-action="renew"][data-id="${renewed}"]`);
      expect((await accepted).status()).toBe(202);
      await page.waitForSelector('#notice[data-kind="ok"]', { timeout: WAIT_MS });
      // Expressions, not functions: the tests compile without the DOM's types.
      const row = `document.querySelector('table#certificates tbody tr[data-id="${renewed}"] [data-serial]')`;
      await page.waitForFunction(`${row} !== null && !['', ${JSON.stringify(oldSerial)}].includes(${row}.getAttribute('data-serial'))`, { timeout: WAIT_MS });
      const items = `[...document.querySelectorAll('#history li[data-cert="${renewed}"]')]`;
      const idOf = (kind: string) => `Number(${items}.find((li) => li.getAttribute('data-kind') === '${kind}')?.getAttribute('data-id') ?? NaN)`;
      // Newest first in the list; the issue that followed the request has the larger row id.
      await page.waitForFunction(`${idOf('issued')} > ${idOf('renew-requested')}`, { timeout: WAIT_MS });
      expect(await rowSerial(page, ids[1]!)).toBe(before[1]!.serial);
      await page.screenshot({ path: SCREENSHOT as `${string}.png`, fullPage: true });

      // A phone: one card per certificate, as wide as the screen, the header row hidden.
      // (Emulating a mobile device reloads the page: wait for the table again.)
      await page.setViewport({ width: 390, height: 844, isMobile: true });
      for (const id of ids) await page.waitForSelector(`table#certificates tbody tr[data-id="${id}"]`, { timeout: WAIT_MS });
      const layout = (await page.evaluate(`(() => {
        const table = document.querySelector('table#certificates');
        return { head: getComputedStyle(table.tHead).display, widths: [...table.tBodies[0].rows].map((r) => r.getBoundingClientRect().width) };
      })()`)) as { head: string; widths: number[] };
      expect(layout.head).toBe('none');
      expect(layout.widths).toHaveLength(ids.length + 1); // the blocked name too: wanted, failing, no file
      for (const width of layout.widths) expect(width).toBeLessThanOrEqual(390);
      expect(pageErrors).toEqual([]);
    });

    const history = (await (await fetch(`${url}/api/history?cert=${renewed}&kind=renew-requested`)).json()) as { rows: HistoryRow[] };
    expect(history.rows[0]).toMatchObject({ kind: 'renew-requested', cert: renewed, by: 'dashboard' });
    expect(await w.stop()).toBe(0);
  });
});
