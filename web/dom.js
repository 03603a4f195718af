/* global document */
// Small DOM and time helpers. Data from the API is only ever set as text (never as HTML).

/** Creates an element: attributes (`class`, `data-*`, `title`, …; `text` sets the text) and children. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) el.append(c);
  return el;
}

/** An SVG element with attributes. */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c) el.append(c);
  return el;
}

const UNITS = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['min', 60_000],
  ['s', 1000],
];

/** `in 59 d`, `3 h ago`, `now`. */
export function relative(iso, now = Date.now()) {
  if (!iso) return '–';
  const diff = new Date(iso).getTime() - now;
  const abs = Math.abs(diff);
  if (abs < 1000) return 'now';
  const [unit, ms] = UNITS.find(([, ms]) => abs >= ms) ?? UNITS[UNITS.length - 1];
  const n = Math.floor(abs / ms);
  return diff > 0 ? `in ${n} ${unit}` : `${n} ${unit} ago`;
}

/** `2026-12-02 18:46 UTC`. */
export function absolute(iso) {
  if (!iso) return '';
  return `${new Date(iso).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** A `<time>` showing the relative time, the absolute one on hover. */
export function timeEl(iso, now) {
  return h('time', { datetime: iso, title: absolute(iso), text: relative(iso, now) });
}

/** A horizontal bar: `fraction` (0…1) filled, coloured by `tone` (`ok`, `warn`, `bad`). */
export function bar(fraction, tone, label) {
  const fill = h('span', { class: `fill ${tone}` });
  fill.style.width = `${Math.round(Math.max(0, Math.min(1, fraction)) * 100)}%`;
  return h('span', { class: 'bar', role: 'img', 'aria-label': label, title: label }, fill);
}

/** Replaces the children of `el`. */
export function fill(el, children) {
  el.replaceChildren(...children);
}
