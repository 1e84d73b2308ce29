// Small formatting helpers shared by the panel and the tooltip.

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escape text for innerHTML. */
export const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ESC[c]);

const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

/** A number with `digits` decimals, or an em dash for null/undefined/NaN. */
export function num(v, digits = 1) {
  return isNum(v) ? v.toFixed(digits) : '—';
}

export function dbm(v) {
  return isNum(v) ? `${v.toFixed(1)} dBm` : '—';
}

export function prob(v) {
  return isNum(v) ? v.toFixed(2) : '—';
}

export function int(v) {
  return isNum(v) ? Math.round(v).toLocaleString('en') : '—';
}

export function when(ms) {
  return isNum(ms) ? new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : '—';
}

export function metres(v) {
  if (!isNum(v)) return '—';
  return v >= 1000 ? `${(v / 1000).toFixed(1)} km` : `${Math.round(v)} m`;
}

/** A property value with the layer's unit, for the tooltip. */
export function valueWithUnit(v, unit) {
  if (!isNum(v)) return '—';
  if (unit === 'dBm') return dbm(v);
  if (unit === 'probability') return `P = ${v.toFixed(2)}`;
  return unit ? `${num(v, 2)} ${unit}` : num(v, 2);
}

/** `<tr><th>k</th><td>v</td></tr>` rows from [label, html] pairs. */
export function rows(pairs) {
  return pairs.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join('');
}
