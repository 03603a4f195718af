// The side panels: rate-limit buckets, the queue, the last failures, the history and the account line.
import { bar, fill, h, timeEl } from './dom.js';

/** The buckets as remaining/capacity bars, with when the next token comes. */
export function renderLimits(list, nextEl, limits, now) {
  nextEl.textContent = limits.nextFreeAt ? `A spent bucket has room again ${new Date(limits.nextFreeAt).getTime() > now ? 'at' : 'since'} ${limits.nextFreeAt.slice(0, 16).replace('T', ' ')} UTC.` : 'Every bucket has room.';
  fill(list, limits.buckets.map((b) => {
    const fraction = b.capacity > 0 ? b.remaining / b.capacity : 0;
    const tone = fraction > 0.3 ? 'ok' : fraction > 0 ? 'warn' : 'bad';
    return h('li', { 'data-bucket': b.bucket, 'data-key': b.key },
      h('span', { class: 'bucket-name', text: b.bucket }),
      h('small', { class: 'muted bucket-key', text: b.key }),
      bar(fraction, tone, `${b.remaining} of ${b.capacity} left`),
      h('span', { class: 'bucket-count', text: `${b.remaining}/${b.capacity}` }),
      b.nextTokenAt ? h('small', { class: 'muted' }, 'next ', timeEl(b.nextTokenAt, now)) : undefined);
  }));
}

/** The queued jobs: state, attempt, why, next run and last error. */
export function renderQueue(list, emptyEl, jobs, now) {
  emptyEl.hidden = jobs.length > 0;
  fill(list, jobs.map((j) => h('li', { 'data-id': j.id, 'data-state': j.state },
    h('span', { class: `badge ${j.state === 'running' ? 'info' : j.state === 'deferred' ? 'warn' : 'muted'}`, text: j.state }),
    h('strong', { text: j.id }),
    h('small', { class: 'muted', text: ` attempt ${j.attempt} · ${j.reason}` }),
    j.nextAt ? h('small', { class: 'muted' }, ' · runs ', timeEl(j.nextAt, now)) : undefined,
    j.lastError ? h('small', { class: 'error-line', text: `${j.lastError.code}: ${j.lastError.message}` }) : undefined)));
}

function problemLines(p) {
  if (!p) return [];
  const lines = [h('div', { class: 'problem' }, h('code', { text: p.type ?? 'problem' }), p.status ? h('small', { text: ` HTTP ${p.status}` }) : undefined, p.detail ? h('p', { text: p.detail }) : undefined)];
  for (const s of p.subproblems ?? []) lines.push(h('div', { class: 'problem sub' }, h('code', { text: s.type ?? '' }), h('span', { text: ` ${s.identifier ?? ''} ${s.detail ?? ''}` })));
  return lines;
}

/** The last failures, with their ACME problem documents. */
export function renderFailures(list, emptyEl, rows, now) {
  emptyEl.hidden = rows.length > 0;
  fill(list, rows.map((r) => h('li', { 'data-id': r.id, 'data-cert': r.cert ?? '' },
    h('div', {}, timeEl(r.at, now), ' ', h('strong', { text: r.cert ?? '(no certificate)' }), ' ', h('code', { class: 'error-code', text: r.code ?? '' })),
    r.message ? h('p', { class: 'error-line', text: r.message }) : undefined,
    problemLines(r.problem))));
}

function describe(r) {
  const bits = [r.reason, r.target && `target ${r.target}`, r.serial && `serial ${r.serial.slice(0, 16)}`, r.bucket && `bucket ${r.bucket}`, r.by && `by ${r.by}`, r.code, r.message];
  return bits.filter(Boolean).join(' · ');
}

/** The latest history rows, newest first. */
export function renderHistory(list, rows, now) {
  fill(list, rows.map((r) => h('li', { 'data-id': r.id, 'data-kind': r.kind, 'data-cert': r.cert ?? '' },
    timeEl(r.at, now), ' ',
    h('span', { class: `kind ${r.kind}`, text: r.kind }), ' ',
    h('strong', { text: r.cert ?? '' }), ' ',
    h('small', { class: 'muted', text: describe(r) }))));
}

/** `Account: <url> · ecdsa-p256 · valid · mailto:…` */
export function accountLine(a) {
  const bits = [a.url ?? 'not registered yet', a.keyType, a.status, ...(a.contact ?? [])].filter(Boolean);
  return `Account at ${a.directoryUrl}: ${bits.join(' · ')}`;
}
