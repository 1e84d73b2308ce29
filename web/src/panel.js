// The side panel: layer toggles with legends, the state legend, results,
// the evidence of one hex, downloads and the error list.

import { esc, num, dbm, prob, int, when, metres, rows } from './format.js';
import { numericStops, PREDICTED_OPACITY } from './mapstyle.js';

const $ = (id) => document.getElementById(id);

/** Bring a freshly filled part of the panel into view. */
function reveal(el, block = 'nearest') {
  if (el && typeof el.scrollIntoView === 'function') el.scrollIntoView({ block, behavior: 'auto' });
}

// ---------------------------------------------------------------- errors

const seen = new Map();

/** Show an error in the panel (and nowhere else: the page never hides one). */
export function showError(context, err) {
  const msg = `${context}: ${err && err.message ? err.message : String(err)}`;
  const box = $('errors');
  const list = $('errors-list');
  box.hidden = false;
  const prev = seen.get(msg);
  if (prev) {
    prev.count += 1;
    prev.li.querySelector('.count').textContent = ` ×${prev.count}`;
    return;
  }
  const li = document.createElement('li');
  li.dataset.testid = 'error-item';
  li.innerHTML = `${esc(msg)}<span class="count"></span>`;
  list.appendChild(li);
  seen.set(msg, { li, count: 1 });
  reveal(box);
}

export function clearErrors() {
  seen.clear();
  $('errors-list').innerHTML = '';
  $('errors').hidden = true;
}

// ---------------------------------------------------------------- legends

function legendHtml(layer) {
  // Swatches as faint as the layer is drawn.
  const opacity = layer.name === 'predicted' ? PREDICTED_OPACITY : 1;
  const entries = layer.legend || [];
  if (!entries.length) {
    const stops = numericStops(layer);
    return stops.map(([v, c]) => swatch(c, `${v}${layer.unit === 'dBm' ? ' dBm' : ''}`, opacity)).join('');
  }
  const sorted = entries.every((e) => typeof e.value === 'number')
    ? [...entries].sort((a, b) => a.value - b.value)
    : entries;
  return sorted.map((e) => swatch(e.color, e.label ?? String(e.value), opacity)).join('');
}

function swatch(color, label, opacity = 1) {
  const style = `background:${esc(color)}${opacity < 1 ? `;opacity:${opacity}` : ''}`;
  return `<span class="swatch"><i class="box" style="${style}"></i>${esc(label)}</span>`;
}

/** One checkbox per API layer, each with its legend. `onToggle(name, visible)`. */
export function renderLayerList(info, visible, onToggle) {
  const root = $('layer-list');
  root.innerHTML = '';
  for (const layer of info.layers || []) {
    const div = document.createElement('div');
    div.className = 'layer';
    const id = `toggle-${layer.name}`;
    div.innerHTML = `
      <label for="${esc(id)}" title="${esc(layer.description || '')}">
        <input type="checkbox" id="${esc(id)}" data-testid="layer-toggle-${esc(layer.name)}" data-layer="${esc(layer.name)}"
          ${visible.has(layer.name) ? 'checked' : ''}>
        <strong>${esc(layer.name)}</strong>
        ${layer.property ? `<span class="muted">${esc(layer.property)}${layer.unit ? ` (${esc(layer.unit)})` : ''}</span>` : ''}
      </label>
      <div class="legend" data-testid="legend-${esc(layer.name)}">${legendHtml(layer)}</div>
      ${layer.description ? `<div class="muted small">${esc(layer.description)}</div>` : ''}`;
    div.querySelector('input').addEventListener('change', (ev) => onToggle(layer.name, ev.target.checked));
    root.appendChild(div);
  }
  if (info.gap_threshold != null) {
    const note = document.createElement('div');
    note.className = 'muted small';
    note.textContent = `gap: P(covered) < ${info.gap_threshold}`;
    root.appendChild(note);
  }
}

export function renderStates(info) {
  $('state-legend').innerHTML = (info.states || [])
    .map((s) => {
      // `shown: false`: this study's data cannot show the state (e.g. no reception times → no stale).
      const off = s.shown === false;
      const title = `${s.description || s.state}${off ? ' (this study cannot show it)' : ''}`;
      return `<span class="swatch${off ? ' off' : ''}" data-testid="state-${esc(s.state)}" title="${esc(title)}"><i class="ring" style="border-color:${esc(s.color)}"></i>${esc(s.label || s.state)}</span>`;
    })
    .join('');
}

/** `bound_by` may be a list of site ids, a string or null. */
export function boundBy(v) {
  if (Array.isArray(v)) return v.filter(Boolean).join(', ');
  return v ? String(v) : '';
}

export function renderDownloads(info) {
  const ul = $('downloads');
  const list = info.downloads || [];
  ul.innerHTML = list.length
    ? list.map((d) => `<li><a href="${esc(new URL(d.url, window.location.href).href)}" download="${esc(d.name)}" data-testid="download-link">${esc(d.name)}</a></li>`).join('')
    : '<li class="muted">none</li>';
}

export function renderStudy(info) {
  const b = info.bounds || [];
  $('study').textContent = `${info.study || 'study'} · ${b.map((x) => num(x, 3)).join(', ')}`;
}

// ---------------------------------------------------------------- evidence

export function renderEvidenceLoading(cell) {
  const el = $('evidence');
  el.className = 'muted';
  el.dataset.cell = cell;
  el.dataset.state = '';
  el.dataset.loaded = 'false';
  el.textContent = `loading ${cell}…`;
}

export function renderEvidence(ev, stateColor) {
  const el = $('evidence');
  el.className = '';
  el.dataset.cell = ev.cell;
  el.dataset.state = ev.state;
  el.dataset.loaded = 'true';
  const m = ev.measured;
  const p = ev.prediction;
  const center = Array.isArray(ev.center) ? `${num(ev.center[1], 5)}, ${num(ev.center[0], 5)}` : '—';
  let html = `
    <div class="ev-head">
      <code data-testid="evidence-cell">${esc(ev.cell)}</code>
      <span class="badge" data-testid="evidence-state" style="border-color:${esc(stateColor || '#888')}">${esc(ev.state)}</span>
    </div>
    <div class="muted small">res ${esc(ev.res)} · centre ${esc(center)}${ev.gap === true ? ' · <b class="gap-flag" data-testid="evidence-gap">a coverage gap</b>' : ''}</div>`;
  html += '<h3>Measured</h3>';
  if (m) {
    html += `<table data-testid="evidence-measured">${rows([
      ['links (heard / invalid)', `${int(m.n_links)} (${int(m.n_heard)} / ${int(m.n_invalid)})`],
      ['receivers', int(m.n_receivers)],
      ['transmitters', int(m.n_transmitters)],
      ['RSSI median', `<span data-testid="evidence-rssi-median">${dbm(m.rssi_median_dbm)}</span>`],
      ['RSSI mean', dbm(m.rssi_mean_dbm)],
      ['RSSI p10 … p90', `${dbm(m.rssi_p10_dbm)} … ${dbm(m.rssi_p90_dbm)}`],
      ['RSSI max', dbm(m.rssi_max_dbm)],
      ['SNR mean', m.snr_mean_db == null ? '—' : `${num(m.snr_mean_db)} dB`],
      ['best receiver', esc(m.best_rx_id ?? '—')],
      ['first / last seen', `${when(m.first_seen_unix_ms)} / ${when(m.last_seen_unix_ms)}`],
    ])}</table>`;
  } else {
    html += '<div class="muted">no measurement in this cell</div>';
  }
  const rx = ev.receivers || [];
  html += `<h3>Receivers (${rx.length})</h3>`;
  if (rx.length) {
    html += `<table class="grid" data-testid="evidence-receivers"><tr><th>receiver</th><th class="n">links</th><th class="n">median</th><th class="n">max</th></tr>${rx
      .map((r) => `<tr><td title="${esc(r.id)}">${esc(r.name || r.id)}</td><td class="n">${int(r.n_links)}</td><td class="n">${num(r.rssi_median_dbm)}</td><td class="n">${num(r.rssi_max_dbm)}</td></tr>`)
      .join('')}</table>`;
  } else {
    html += '<div class="muted">none</div>';
  }
  html += '<h3>Prediction</h3>';
  if (p) {
    html += `<table data-testid="evidence-prediction">${rows([
      ['P(covered)', prob(p.p_covered)],
      ['RSSI predicted', dbm(p.rssi_pred_dbm)],
      ['interval p10 … p90', p.rssi_p10_dbm == null && p.rssi_p90_dbm == null
        ? '<span class="muted">none at this resolution: zoom in</span>'
        : `${dbm(p.rssi_p10_dbm)} … ${dbm(p.rssi_p90_dbm)}`],
      ['best site', esc(p.best_site ?? '—')],
      ['model res', esc(p.res ?? '—')],
    ])}</table>`;
  } else {
    html += '<div class="muted">no prediction for this cell</div>';
  }
  const notes = ev.notes || [];
  if (notes.length) html += `<h3>Notes</h3><ul class="notes" data-testid="evidence-notes">${notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>`;
  el.innerHTML = html;
  reveal($('evidence-section'), 'start');
}

export function renderEvidenceError(cell, err) {
  const el = $('evidence');
  el.className = 'error-text';
  el.dataset.cell = cell;
  el.dataset.loaded = 'error';
  el.textContent = `${cell}: ${err.message || err}`;
}

// ---------------------------------------------------------------- what-if

export function renderWhatIfPending(lat, lon) {
  const el = $('whatif-result');
  el.hidden = false;
  el.dataset.status = 'running';
  el.innerHTML = `<span class="muted">computing a site at ${num(lat, 5)}, ${num(lon, 5)}…</span>`;
}

export function renderWhatIf(r) {
  const el = $('whatif-result');
  el.hidden = false;
  el.dataset.status = 'done';
  const s = r.site || {};
  const v = r.violations || [];
  el.innerHTML = `
    <table>${rows([
      ['site', `${num(s.lat, 5)}, ${num(s.lon, 5)} · ${num(s.height_agl_m, 0)} m · ${num(s.gain_dbi, 1)} dBi`],
      ['demand added', `<span data-testid="whatif-demand">${num(r.demand_added, 2)}</span>`],
      ['hexes added', `<span data-testid="whatif-hexes">${int(r.hexes_added)}</span>`],
      ...(r.demand_hexes_added != null
        ? [['demand hexes added', `<span data-testid="whatif-demand-hexes">${int(r.demand_hexes_added)}</span> <span class="muted small">(drawn)</span>`]]
        : []),
      ...(r.hexes_covered != null ? [['hexes it covers (P ≥ 0.5)', int(r.hexes_covered)]] : []),
      ['reward scale', num(r.reward_scale, 2)],
      ['res / radius', `${esc(r.res ?? '—')} / ${metres(r.radius_m)}`],
      ...(r.model ? [['model', esc(r.model)]] : []),
      ['time', r.elapsed_ms == null ? '—' : `${num(r.elapsed_ms, 0)} ms`],
    ])}</table>
    <div class="${v.length ? 'warn' : 'muted'}" data-testid="whatif-violations">${v.length
      ? `violations:<ul>${v.map((x) => `<li><b>${esc(x.rule)}</b>: ${esc(x.message)}${x.distance_m != null ? ` (${metres(x.distance_m)})` : ''}</li>`).join('')}</ul>`
      : 'no rule violated'}</div>`;
  reveal(el);
}

export function renderWhatIfError(err) {
  const el = $('whatif-result');
  el.hidden = false;
  el.dataset.status = 'error';
  el.innerHTML = `<span class="error-text">${esc(err.message || err)}</span>`;
}

// ---------------------------------------------------------------- placement

export function renderProgress(text) {
  const el = $('suggest-progress');
  el.hidden = !text;
  el.textContent = text || '';
}

export function renderPlacement(job, bbox) {
  const el = $('suggest-result');
  el.hidden = false;
  el.dataset.status = job.status;
  const r = job.result || {};
  const sug = [...(r.suggestions || [])].sort((a, b) => a.rank - b.rank);
  const b = r.bound;
  let bound = '—';
  if (b && b.proven) bound = `proven: upper ${num(b.upper, 3)}, gap <span data-testid="suggest-gap">${fmtGap(b.gap)}</span>`;
  else if (b) bound = `not proven: ${esc(b.reason || 'no reason given')}`;
  el.innerHTML = `
    <table>${rows([
      ['region', bbox.map((x) => num(x, 3)).join(', ')],
      ...(r.demand_cells != null ? [['demand cells', int(r.demand_cells)]] : []),
      ...(r.candidates != null ? [['candidates', `${int(r.candidates)}${r.candidate_res != null ? ` (res ${esc(r.candidate_res)})` : ''}`]] : []),
      ['objective', num(r.objective, 3)],
      ['bound', bound],
      ...(r.elapsed_ms != null ? [['time', `${(r.elapsed_ms / 1000).toFixed(1)} s`]] : []),
    ])}</table>
    ${r.shortfall ? `<div class="warn" data-testid="suggest-shortfall">${esc(r.shortfall)}</div>` : ''}
    <ol class="suggestions" data-testid="suggest-list">${sug
      .map((s) => `<li data-testid="suggestion" data-rank="${esc(s.rank)}">
        <b>#${esc(s.rank)}</b> ${num(s.lat, 5)}, ${num(s.lon, 5)}<br>
        <span class="small">gain ${num(s.marginal_gain, 3)} · demand +${num(s.demand_added, 1)} · reward ×${num(s.reward_scale, 2)}${boundBy(s.bound_by) ? ` · bound by ${esc(boundBy(s.bound_by))}` : ''}</span>
      </li>`)
      .join('')}</ol>
    ${sug.length ? '' : '<div class="muted">no site adds coverage here</div>'}`;
  reveal(el);
}

function fmtGap(g) {
  if (typeof g !== 'number') return '—';
  if (g === 0) return '0';
  return Math.abs(g) < 1e-3 ? g.toExponential(1) : g.toFixed(4);
}

export function renderPlacementError(err) {
  const el = $('suggest-result');
  el.hidden = false;
  el.dataset.status = 'error';
  el.innerHTML = `<span class="error-text">${esc(err.message || err)}</span>`;
}
