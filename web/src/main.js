// hexcover web map: the study's hex layers on MapLibre, the evidence of a hex,
// what-if for a dropped site and placement jobs. The API is docs/api.md.

import 'maplibre-gl/dist/maplibre-gl.css';
import './style.css';
import { Map as MapLibreMap, Marker, NavigationControl, ScaleControl, setWorkerUrl } from 'maplibre-gl';
// The worker ships as its own file beside the bundle (no CDN, works offline).
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';

import { getJson, postJson, token, setToken } from './api.js';
import { valueWithUnit, esc, num } from './format.js';
import { BACKGROUND, DEFAULT_VISIBLE, addStudyLayers, hexFillLayers, stateColors, firstColor } from './mapstyle.js';
import * as panel from './panel.js';
import { viewRegion } from './region.js';

setWorkerUrl(new URL(workerUrl, window.location.href).href);

const $ = (id) => document.getElementById(id);

const app = {
  info: null,
  map: null,
  groups: {},
  visible: new Set(DEFAULT_VISIBLE),
  dropMode: false,
  selectedCell: null,
  evidenceSeq: 0,
  whatifMarker: null,
  suggestionMarkers: [],
  studyMarkers: [],
  jobSeq: 0,
};
// For tests and for the curious: the map and the page's state.
window.hexcover = app;

function setReady(flag) {
  document.documentElement.dataset.ready = flag;
}

async function start() {
  setReady('loading');
  let info;
  try {
    info = await getJson('/api/v1/layers');
  } catch (e) {
    panel.showError('loading the study', e);
    $('study').textContent = 'the study could not be loaded';
    setReady('error');
    return;
  }
  app.info = info;
  panel.renderStudy(info);
  panel.renderStates(info);
  panel.renderDownloads(info);
  panel.renderLayerList(info, app.visible, setGroupVisible);

  const basemap = typeof info.basemap === 'string' && info.basemap ? info.basemap : null;
  const style = basemap || {
    version: 8,
    name: 'hexcover',
    sources: {},
    layers: [{ id: 'background', type: 'background', paint: { 'background-color': BACKGROUND } }],
  };
  let map;
  try {
    map = new MapLibreMap({
      container: 'map',
      style,
      bounds: info.bounds,
      fitBoundsOptions: { padding: 24 },
      attributionControl: { compact: true },
      // Tests read the canvas back; the cost is small at this size.
      canvasContextAttributes: { preserveDrawingBuffer: true, antialias: true },
      dragRotate: false,
      pitchWithRotate: false,
    });
  } catch (e) {
    // Most often: no WebGL in this browser.
    panel.showError('starting the map', e);
    setReady('error');
    return;
  }
  app.map = map;
  window.hexcoverMap = map;
  map.addControl(new NavigationControl({ showCompass: false }), 'top-left');
  map.addControl(new ScaleControl({ unit: 'metric' }), 'bottom-left');

  map.on('error', (ev) => {
    const e = ev && ev.error ? ev.error : ev;
    const src = ev && ev.sourceId ? ` (${ev.sourceId})` : '';
    panel.showError(`map${src}`, e);
  });

  map.on('load', () => {
    try {
      app.groups = addStudyLayers(map, info);
    } catch (e) {
      panel.showError('building the map layers', e);
      setReady('error');
      return;
    }
    wireMap(map);
    loadSiteLabels();
    map.once('idle', () => setReady('true'));
  });
}

// ---------------------------------------------------------------- layers

function setGroupVisible(name, visible) {
  if (visible) app.visible.add(name);
  else app.visible.delete(name);
  const ids = app.groups[name] || [];
  for (const id of ids) {
    if (app.map.getLayer(id)) app.map.setLayoutProperty(id, 'visibility', visible ? 'visible' : 'none');
  }
  const sel = `${name}-selected`;
  if (app.map.getLayer(sel)) app.map.setLayoutProperty(sel, 'visibility', visible ? 'visible' : 'none');
  if (name === 'suggestions') {
    for (const m of app.studyMarkers) m.getElement().hidden = !visible;
  }
}

function layerInfo(name) {
  return (app.info.layers || []).find((l) => l.name === name) || {};
}

/** Suggested sites of the study (from `/api/v1/sites`) labelled with rank and gain. */
async function loadSiteLabels() {
  let fc;
  try {
    fc = await getJson('/api/v1/sites');
  } catch (e) {
    panel.showError('loading the sites', e);
    return;
  }
  const color = firstColor(layerInfo('suggestions'), '#e7298a');
  for (const f of fc.features || []) {
    const p = f.properties || {};
    if (p.kind !== 'suggested' || !f.geometry || f.geometry.type !== 'Point') continue;
    const el = document.createElement('div');
    el.className = 'site-label';
    el.dataset.testid = 'study-suggestion';
    el.style.borderColor = color;
    el.textContent = `#${p.rank ?? '?'} +${num(p.marginal_gain, 1)}`;
    el.title = `suggested site ${p.id ?? ''}: gain ${num(p.marginal_gain, 3)}, demand +${num(p.demand_added, 0)}, reward ×${num(p.reward_scale, 2)}`;
    el.hidden = !app.visible.has('suggestions');
    const m = new Marker({ element: el, anchor: 'bottom-left', offset: [6, -6] }).setLngLat(f.geometry.coordinates).addTo(app.map);
    app.studyMarkers.push(m);
  }
}

// ---------------------------------------------------------------- pointer

function wireMap(map) {
  const fills = () => hexFillLayers(app.groups).filter((id) => map.getLayoutProperty(id, 'visibility') !== 'none');
  const points = () =>
    ['sites', 'suggestions']
      .flatMap((g) => app.groups[g] || [])
      .filter((id) => map.getLayer(id) && map.getLayoutProperty(id, 'visibility') !== 'none');
  const tip = $('tooltip');

  map.on('mousemove', (ev) => {
    const pts = map.queryRenderedFeatures(ev.point, { layers: points() });
    const hexes = pts.length ? [] : map.queryRenderedFeatures(ev.point, { layers: fills() });
    const f = pts[0] || hexes[0];
    map.getCanvas().style.cursor = app.dropMode ? 'crosshair' : f ? 'pointer' : '';
    if (!f) {
      tip.hidden = true;
      return;
    }
    tip.innerHTML = tooltipHtml(f);
    tip.hidden = false;
    const r = map.getContainer().getBoundingClientRect();
    tip.style.left = `${r.left + ev.point.x + 14}px`;
    tip.style.top = `${r.top + ev.point.y + 14}px`;
  });
  map.getCanvas().addEventListener('mouseleave', () => {
    tip.hidden = true;
  });

  map.on('click', (ev) => {
    if (app.dropMode) {
      dropSite(ev.lngLat);
      return;
    }
    const f = map.queryRenderedFeatures(ev.point, { layers: fills() }).find((x) => x.properties && x.properties.cell);
    if (f) selectCell(String(f.properties.cell));
  });
}

function tooltipHtml(f) {
  const group = f.layer && f.layer.metadata ? f.layer.metadata['hexcover:group'] : f.sourceLayer;
  const p = f.properties || {};
  if (group === 'sites') return `<b>${esc(p.name || p.id)}</b><br><span class="muted">${esc(p.id)} · ${esc(p.source ?? '')}</span>`;
  if (group === 'suggestions') return `<b>suggested #${esc(p.rank)}</b><br>gain ${num(p.marginal_gain, 3)} · demand +${num(p.demand_added, 0)}`;
  const l = layerInfo(group);
  const value = l.property ? valueWithUnit(p[l.property], l.unit) : '';
  return `<code>${esc(p.cell)}</code> <span class="muted">${esc(group)}</span><br>${esc(value)}${p.state ? ` · ${esc(p.state)}` : ''}`;
}

// ---------------------------------------------------------------- evidence

async function selectCell(cell) {
  app.selectedCell = cell;
  const seq = ++app.evidenceSeq;
  for (const name of ['predicted', 'measured', 'gaps']) {
    const id = `${name}-selected`;
    if (app.map.getLayer(id)) app.map.setFilter(id, ['==', ['get', 'cell'], cell]);
  }
  panel.renderEvidenceLoading(cell);
  try {
    const ev = await getJson(`/api/v1/hexes/${encodeURIComponent(cell)}`);
    if (seq !== app.evidenceSeq) return;
    panel.renderEvidence(ev, stateColors(app.info.states).get(ev.state));
  } catch (e) {
    if (seq !== app.evidenceSeq) return;
    panel.renderEvidenceError(cell, e);
    panel.showError(`evidence of ${cell}`, e);
  }
}

// ---------------------------------------------------------------- what-if

function setDropMode(on) {
  app.dropMode = on;
  const b = $('whatif-button');
  b.classList.toggle('active', on);
  b.textContent = on ? 'Click the map to drop the site… (Esc cancels)' : 'Drop a site';
  app.map.getCanvas().style.cursor = on ? 'crosshair' : '';
}

function numberInput(id, fallback) {
  const v = Number.parseFloat($(id).value);
  return Number.isFinite(v) ? v : fallback;
}

async function dropSite(lngLat) {
  setDropMode(false);
  const site = {
    lat: Number(lngLat.lat.toFixed(6)),
    lon: Number(lngLat.lng.toFixed(6)),
    height_agl_m: numberInput('whatif-height', 10),
    gain_dbi: numberInput('whatif-gain', 3),
  };
  if (app.whatifMarker) app.whatifMarker.remove();
  const el = document.createElement('div');
  el.className = 'whatif-marker';
  el.dataset.testid = 'whatif-marker';
  app.whatifMarker = new Marker({ element: el }).setLngLat([site.lon, site.lat]).addTo(app.map);
  app.map.getSource('hc-whatif').setData({ type: 'FeatureCollection', features: [] });
  panel.renderWhatIfPending(site.lat, site.lon);
  $('whatif-button').disabled = true;
  try {
    const { body } = await postJson('/api/v1/whatif', { site });
    app.map.getSource('hc-whatif').setData(body.added && body.added.type === 'FeatureCollection' ? body.added : { type: 'FeatureCollection', features: [] });
    panel.renderWhatIf(body);
  } catch (e) {
    panel.renderWhatIfError(e);
    panel.showError('what-if', e);
  } finally {
    $('whatif-button').disabled = false;
  }
}

// ---------------------------------------------------------------- placement

function updateSuggestLabel() {
  const n = Math.round(numberInput('suggest-count', 3));
  $('suggest-button').textContent = `Suggest ${n} site${n === 1 ? '' : 's'} in view`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function suggest() {
  const n = Math.round(numberInput('suggest-count', 3));
  const b = app.map.getBounds();
  const { bbox, shrunk, areaKm2 } = viewRegion([b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]);
  const seq = ++app.jobSeq;
  for (const m of app.suggestionMarkers) m.remove();
  app.suggestionMarkers = [];
  const btn = $('suggest-button');
  btn.disabled = true;
  $('suggest-result').hidden = true;
  panel.renderProgress(`starting${shrunk ? ` (view is ${areaKm2.toFixed(0)} km²: using the 1,000 km² around its centre)` : ''}…`);
  try {
    const { body: started } = await postJson('/api/v1/placements', { region: { bbox }, sites: n });
    const url = started.url || `/api/v1/placements/${encodeURIComponent(started.id)}`;
    let job = started;
    while (job.status !== 'done' && job.status !== 'failed') {
      await sleep(300);
      if (seq !== app.jobSeq) return;
      job = await getJson(url);
      const p = job.progress;
      panel.renderProgress(p ? `${p.stage ?? 'working'} ${p.done ?? '?'} / ${p.total ?? '?'}` : `${job.status}…`);
    }
    if (seq !== app.jobSeq) return;
    panel.renderProgress('');
    if (job.status === 'failed') throw new Error(`placement ${job.id} failed: ${job.error || 'no reason given'}`);
    panel.renderPlacement(job, bbox);
    showSuggestionMarkers(job.result && job.result.suggestions ? job.result.suggestions : []);
  } catch (e) {
    if (seq !== app.jobSeq) return;
    panel.renderProgress('');
    panel.renderPlacementError(e);
    panel.showError('placement', e);
  } finally {
    if (seq === app.jobSeq) btn.disabled = false;
  }
}

function showSuggestionMarkers(list) {
  for (const s of list) {
    if (!Number.isFinite(s.lat) || !Number.isFinite(s.lon)) continue;
    const el = document.createElement('div');
    el.className = 'suggest-marker';
    el.dataset.testid = 'suggestion-marker';
    el.innerHTML = `<span class="dot">${esc(s.rank)}</span><span class="lbl">+${num(s.marginal_gain, 1)}</span>`;
    el.title = `#${s.rank}: gain ${num(s.marginal_gain, 3)}, demand +${num(s.demand_added, 1)}, reward ×${num(s.reward_scale, 2)}`;
    app.suggestionMarkers.push(new Marker({ element: el, anchor: 'left', offset: [-11, 0] }).setLngLat([s.lon, s.lat]).addTo(app.map));
  }
}

// ---------------------------------------------------------------- controls

$('whatif-button').addEventListener('click', () => {
  if (app.map) setDropMode(!app.dropMode);
});
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && app.dropMode) setDropMode(false);
});
$('suggest-count').addEventListener('input', updateSuggestLabel);
$('suggest-button').addEventListener('click', () => {
  if (app.map) suggest();
});
$('errors-clear').addEventListener('click', panel.clearErrors);
$('token').value = token();
$('token').addEventListener('change', (ev) => setToken(ev.target.value.trim()));
window.addEventListener('unhandledrejection', (ev) => panel.showError('unexpected', ev.reason));

updateSuggestLabel();
start();

