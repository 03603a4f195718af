// The certificates: their status, the summary counts, the sortable table and the renewal timeline.
import { bar, fill, h, relative, svg, timeEl, absolute } from './dom.js';

const DAY = 86_400_000;
const SOON_MS = 7 * DAY;
const STATUS_ORDER = { expired: 0, failing: 1, soon: 2, ok: 3 };
const STATUS_TEXT = { expired: 'expired', failing: 'failing', soon: 'renewing soon', ok: 'ok' };

/** Fraction of the lifetime left (0 when expired, `undefined` without a file). */
export function lifeLeft(c, now) {
  if (!c.notAfter || !c.notBefore) return undefined;
  const end = Date.parse(c.notAfter);
  const span = end - Date.parse(c.notBefore);
  return span > 0 ? Math.max(0, (end - now) / span) : 0;
}

/** `expired`, `failing` (its last attempt failed), `soon` (due within 7 days, requested, or not issued yet), `ok`. */
export function status(c, now) {
  if (c.notAfter && Date.parse(c.notAfter) <= now) return 'expired';
  if (c.lastError) return 'failing';
  if (!c.notAfter || c.renewRequested) return 'soon';
  if (c.nextRenewal && Date.parse(c.nextRenewal) - now < SOON_MS) return 'soon';
  return 'ok';
}

function tone(fraction) {
  if (fraction === undefined || fraction < 0.1) return 'bad';
  return fraction > 0.3 ? 'ok' : 'warn';
}

const SORT_KEYS = {
  name: (c) => c.id,
  expiry: (c) => (c.notAfter ? Date.parse(c.notAfter) : -Infinity),
  next: (c) => (c.nextRenewal ? Date.parse(c.nextRenewal) : Infinity),
  status: (c, now) => STATUS_ORDER[status(c, now)],
};

/** Sorts by `key` (`name`, `expiry`, `next`, `status`), then by id. */
export function sortCerts(certs, key, dir, now) {
  const get = SORT_KEYS[key] ?? SORT_KEYS.name;
  const sign = dir === 'desc' ? -1 : 1;
  return [...certs].sort((a, b) => {
    const x = get(a, now);
    const y = get(b, now);
    const cmp = typeof x === 'string' ? x.localeCompare(y) : x - y;
    return sign * (cmp || a.id.localeCompare(b.id));
  });
}

/** Sets the summary's four counts. */
export function renderSummary(root, certs, now) {
  const counts = { ok: 0, soon: 0, failing: 0, expired: 0 };
  for (const c of certs) counts[status(c, now)]++;
  for (const [k, n] of Object.entries(counts)) root.querySelector(`[data-count="${k}"]`).textContent = String(n);
}

function targetsLine(targets) {
  const entries = Object.entries(targets ?? {});
  if (entries.length === 0) return undefined;
  return h('ul', { class: 'targets' }, entries.map(([name, t]) => {
    const state = t.lastError ? 'bad' : t.pending ? 'warn' : 'ok';
    const why = t.lastError ? `${t.lastError.code}: ${t.lastError.message}` : t.pending ? 'delivery pending' : `delivered ${t.delivered ?? ''}`;
    return h('li', { class: `target ${state}`, 'data-target': name, title: why, text: name });
  }));
}

function row(c, now, queued) {
  const st = status(c, now);
  const left = lifeLeft(c, now);
  const expiry = c.notAfter
    ? [bar(left, c.notAfter && Date.parse(c.notAfter) <= now ? 'bad' : tone(left), `${Math.round((left ?? 0) * 100)} % of its lifetime left`), timeEl(c.notAfter, now)]
    : [h('span', { class: 'muted', text: 'not issued yet' })];
  const why = [c.renewalReason, c.ariWindow ? `window ${absolute(c.ariWindow.start)} – ${absolute(c.ariWindow.end)}` : undefined].filter(Boolean).join(' · ');
  const next = [
    c.nextRenewal ? timeEl(c.nextRenewal, now) : h('span', { text: '–' }),
    why ? h('small', { class: 'why', text: why }) : undefined,
    c.deferredUntil ? h('small', { class: 'why warn', text: `deferred until ${absolute(c.deferredUntil)}` }) : undefined,
  ];
  const badges = [h('span', { class: `badge ${st}`, text: STATUS_TEXT[st] })];
  if (c.renewRequested || queued) badges.push(h('span', { class: 'badge info', 'data-badge': 'requested', text: c.renewRequested ? 'renewal requested' : 'queued' }));
  if (!c.wanted) badges.push(h('span', { class: 'badge muted', text: 'unwanted' }));
  const error = c.lastError ? h('small', { class: 'error-line', title: absolute(c.lastError.at), text: `${c.lastError.code}: ${c.lastError.message}` }) : undefined;
  return h('tr', { 'data-id': c.id, 'data-status': st },
    h('td', { 'data-col': 'name', 'data-label': 'Certificate' },
      h('strong', { text: c.id }),
      c.names.length > 1 || c.names[0] !== c.id ? h('small', { class: 'names', text: c.names.join(', ') }) : undefined,
      c.issuer ? h('small', { class: 'muted', text: c.issuer }) : undefined),
    h('td', { 'data-col': 'expiry', 'data-label': 'Expires' }, expiry),
    h('td', { 'data-col': 'next', 'data-label': 'Next renewal' }, next),
    h('td', { 'data-col': 'status', 'data-label': 'Status' }, badges, error, targetsLine(c.targets)),
    h('td', { 'data-col': 'serial', 'data-label': 'Serial · key' },
      h('code', { 'data-serial': c.serial ?? '', text: c.serial ? c.serial.slice(0, 16) : '–', title: c.serial ?? '' }),
      c.keyType ? h('small', { class: 'muted', text: c.keyType }) : undefined,
      c.notBefore ? h('small', { class: 'muted', 'data-not-before': c.notBefore, text: `issued ${relative(c.notBefore, now)}` }) : undefined),
    h('td', { 'data-col': 'actions', 'data-label': 'Actions' },
      h('button', { type: 'button', class: 'renew', 'data-action': 'renew', 'data-id': c.id, text: 'Renew now' }),
      h('button', { type: 'button', class: 'revoke', 'data-action': 'revoke', 'data-id': c.id, disabled: !c.serial, text: 'Revoke…' })),
  );
}

/** Renders the table body (sorted, filtered by `filter`), marking the sorted header. */
export function renderTable(table, certs, { sort, dir, filter, queued }, now) {
  const needle = filter.trim().toLowerCase();
  const shown = sortCerts(certs, sort, dir, now).filter((c) => !needle || c.id.toLowerCase().includes(needle) || c.names.some((n) => n.toLowerCase().includes(needle)));
  fill(table.tBodies[0], shown.map((c) => row(c, now, queued.has(c.id))));
  for (const th of table.tHead.querySelectorAll('th[data-sort]')) {
    th.setAttribute('aria-sort', th.dataset.sort === sort ? (dir === 'desc' ? 'descending' : 'ascending') : 'none');
  }
  return shown.length;
}

/** The next 30 days as an inline SVG: one tick per day, one dot per renewal (red when it is overdue). */
export function renderTimeline(root, certs, now) {
  const W = 1000, H = 70, pad = 10;
  const x = (t) => pad + ((t - now) / (30 * DAY)) * (W - 2 * pad);
  const ticks = [];
  for (let d = 0; d <= 30; d++) {
    ticks.push(svg('line', { x1: x(now + d * DAY), x2: x(now + d * DAY), y1: 44, y2: d % 7 === 0 ? 54 : 49, class: 'tick' }));
    if (d % 7 === 0) ticks.push(svg('text', { x: x(now + d * DAY), y: 66, class: 'tick-label', 'text-anchor': d === 0 ? 'start' : 'middle' }, d === 0 ? 'today' : `+${d} d`));
  }
  const due = certs.filter((c) => c.nextRenewal && Date.parse(c.nextRenewal) < now + 30 * DAY);
  const dots = due.map((c, i) => {
    const t = Math.max(now, Date.parse(c.nextRenewal));
    const dot = svg('circle', { cx: x(t), cy: 14 + (i % 4) * 8, r: 5, class: `dot ${Date.parse(c.nextRenewal) <= now ? 'bad' : 'ok'}`, 'data-id': c.id });
    dot.append(svg('title', {}, `${c.id}: ${absolute(c.nextRenewal)}${c.renewalReason ? ` (${c.renewalReason})` : ''}`));
    return dot;
  });
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'timeline-chart', role: 'img', 'aria-label': `${due.length} renewals in the next 30 days` },
    svg('line', { x1: pad, x2: W - pad, y1: 44, y2: 44, class: 'axis' }), ticks, dots);
  const list = h('ul', { class: 'timeline-list' }, sortCerts(due, 'next', 'asc', now).slice(0, 8).map((c) =>
    h('li', { 'data-id': c.id }, timeEl(c.nextRenewal, now), ' ', h('span', { text: c.id }), c.renewalReason ? h('small', { class: 'muted', text: ` ${c.renewalReason}` }) : undefined)));
  fill(root, due.length ? [chart, list] : [h('p', { class: 'muted', text: 'No renewal due in the next 30 days.' })]);
}
