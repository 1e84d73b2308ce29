// MapLibre sources and layers for the study, built from `/api/v1/layers`.
//
// Every layer of the API gets one vector source (`/api/v1/tiles/{layer}/{z}/{x}/{y}.mvt`,
// source-layer = the layer's name) and one or more style layers tagged with
// `metadata["hexcover:group"] = name`, so a checkbox can toggle the group.

import { apiUrl } from './api.js';

export const BACKGROUND = '#f4f1ea';

// Fallback colours when the server's legend is empty.
const DEFAULT_DBM = [
  [-130, '#440154'], [-120, '#3b528b'], [-110, '#21918c'], [-100, '#5ec962'], [-90, '#fde725'],
];
const DEFAULT_PROB = [[0, '#f7fbff'], [0.5, '#6baed6'], [1, '#08306b']];
const DEFAULT_POINT = { sites: '#222222', suggestions: '#e7298a' };
const DEFAULT_STATE = '#888888';

/** Predicted hexes are drawn faint: the measured ones on top are the evidence. */
export const PREDICTED_OPACITY = 0.4;

/** The layers shown when the page opens. */
export const DEFAULT_VISIBLE = new Set(['measured', 'predicted', 'sites', 'suggestions']);

/** Numeric stops [value, colour], ascending and without duplicate values. */
export function numericStops(layer) {
  const stops = (layer.legend || [])
    .filter((e) => typeof e.value === 'number' && Number.isFinite(e.value) && typeof e.color === 'string')
    .map((e) => [e.value, e.color])
    .sort((a, b) => a[0] - b[0]);
  const out = [];
  for (const s of stops) if (!out.length || s[0] > out[out.length - 1][0]) out.push(s);
  if (out.length) return out;
  if (layer.unit === 'dBm') return DEFAULT_DBM;
  if (layer.unit === 'probability' || layer.property === 'p_covered') return DEFAULT_PROB;
  return [];
}

/** A colour expression over `property` from the legend's stops. */
export function colorExpression(layer, fallback) {
  const stops = numericStops(layer);
  if (!layer.property || stops.length === 0) return firstColor(layer, fallback);
  if (stops.length === 1) return stops[0][1];
  const value = ['to-number', ['get', layer.property]];
  return [
    'case',
    ['has', layer.property],
    ['interpolate', ['linear'], value, ...stops.flat()],
    fallback,
  ];
}

export function firstColor(layer, fallback) {
  const e = (layer.legend || []).find((x) => typeof x.color === 'string');
  return e ? e.color : fallback;
}

export function stateColors(states) {
  const m = new Map();
  for (const s of states || []) if (s && s.state && s.color) m.set(s.state, s.color);
  return m;
}

/** `match` on the feature's `state` with the colours of `layers.states`. */
export function stateExpression(states) {
  const m = stateColors(states);
  if (m.size === 0) return DEFAULT_STATE;
  return ['match', ['get', 'state'], ...[...m].flat(), DEFAULT_STATE];
}

function tileSource(name, maxzoom) {
  return {
    type: 'vector',
    // Built by hand: URL() would percent-encode the braces of the template.
    tiles: [`${apiUrl(`/api/v1/tiles/${encodeURIComponent(name)}/`)}{z}/{x}/{y}.mvt`],
    minzoom: 0,
    maxzoom,
  };
}

/** The highest zoom the server serves distinct tiles for. */
export function sourceMaxZoom(info) {
  const zs = (info.resolution_by_zoom || []).map((r) => r.max_zoom).filter(Number.isFinite);
  return zs.length ? Math.min(22, Math.max(...zs)) : 16;
}

/** Draw order: predicted under measured under gaps, points on top. */
const ORDER = ['predicted', 'measured', 'gaps'];
export function orderedLayers(info) {
  const layers = [...(info.layers || [])];
  const rank = (l) => {
    if (l.geometry === 'point') return 100;
    const i = ORDER.indexOf(l.name);
    return i < 0 ? 50 : i;
  };
  return layers.sort((a, b) => rank(a) - rank(b));
}

/** Style layers for one API layer. */
export function styleLayersFor(layer, info) {
  const group = layer.name;
  const base = { source: `hc-${group}`, 'source-layer': group, metadata: { 'hexcover:group': group } };
  const stateLine = stateExpression(info.states);
  const stateMap = stateColors(info.states);
  if (layer.geometry === 'hex') {
    if (group === 'measured') {
      // A hex that was measured but never heard has no RSSI: its state colour fills it.
      const noSignal = stateMap.get('measured_no_signal') || '#d73027';
      return [
        { id: 'measured-fill', type: 'fill', ...base,
          paint: { 'fill-color': colorExpression(layer, noSignal), 'fill-opacity': 0.92 } },
        { id: 'measured-state', type: 'line', ...base,
          paint: { 'line-color': stateLine, 'line-width': ['interpolate', ['linear'], ['zoom'], 9, 0.6, 14, 2.2] } },
      ];
    }
    if (group === 'predicted') {
      return [
        { id: 'predicted-fill', type: 'fill', ...base,
          paint: { 'fill-color': colorExpression(layer, '#cccccc'), 'fill-opacity': PREDICTED_OPACITY } },
        { id: 'predicted-state', type: 'line', ...base,
          paint: { 'line-color': stateLine, 'line-width': ['interpolate', ['linear'], ['zoom'], 9, 0.3, 14, 1.2],
            'line-opacity': 0.6 } },
      ];
    }
    if (group === 'gaps') {
      return [
        { id: 'gaps-fill', type: 'fill', ...base,
          paint: { 'fill-color': colorExpression(layer, '#d7301f'), 'fill-opacity': 0.7 } },
        { id: 'gaps-line', type: 'line', ...base,
          paint: { 'line-color': '#b30000', 'line-width': ['interpolate', ['linear'], ['zoom'], 9, 0.8, 14, 2.5] } },
      ];
    }
    return [
      { id: `${group}-fill`, type: 'fill', ...base,
        paint: { 'fill-color': colorExpression(layer, '#999999'), 'fill-opacity': 0.6 } },
      { id: `${group}-state`, type: 'line', ...base, paint: { 'line-color': stateLine, 'line-width': 0.8 } },
    ];
  }
  // Points: existing sites small and dark, suggestions larger and bright.
  const color = firstColor(layer, DEFAULT_POINT[group] || '#444444');
  const big = group === 'suggestions';
  return [
    { id: `${group}-circle`, type: 'circle', ...base,
      paint: {
        'circle-color': color,
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 8, big ? 5 : 3, 14, big ? 10 : 7],
        'circle-stroke-color': '#ffffff',
        'circle-stroke-width': big ? 2 : 1.5,
      } },
  ];
}

/** Add the study's sources and layers to a loaded map. Returns {group: [layer ids]}. */
export function addStudyLayers(map, info) {
  const groups = {};
  const maxzoom = sourceMaxZoom(info);

  // The outline of the study's data, so the page is readable without a basemap.
  const [w, s, e, n] = info.bounds;
  map.addSource('hc-bounds', {
    type: 'geojson',
    data: { type: 'Feature', properties: {},
      geometry: { type: 'Polygon', coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] } },
  });
  map.addLayer({ id: 'bounds-line', type: 'line', source: 'hc-bounds',
    paint: { 'line-color': '#6b6b6b', 'line-width': 1.2, 'line-dasharray': [3, 2] } });

  for (const layer of orderedLayers(info)) {
    map.addSource(`hc-${layer.name}`, tileSource(layer.name, maxzoom));
    const ls = styleLayersFor(layer, info);
    const visible = DEFAULT_VISIBLE.has(layer.name);
    for (const l of ls) {
      l.layout = { ...(l.layout || {}), visibility: visible ? 'visible' : 'none' };
      // Points go above everything added later too (what-if, selection); hexes below them.
      map.addLayer(l);
    }
    groups[layer.name] = ls.map((l) => l.id);
  }

  // The selected hex, on top of every hex layer.
  for (const name of ['predicted', 'measured', 'gaps']) {
    if (!groups[name]) continue;
    const id = `${name}-selected`;
    map.addLayer({ id, type: 'line', source: `hc-${name}`, 'source-layer': name,
      filter: ['==', ['get', 'cell'], ''],
      paint: { 'line-color': '#000000', 'line-width': 3.5 } }, firstPointLayer(map, groups));
  }

  // What-if: the hexes a dropped site adds.
  map.addSource('hc-whatif', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({ id: 'whatif-fill', type: 'fill', source: 'hc-whatif',
    paint: { 'fill-color': ['interpolate', ['linear'], ['to-number', ['get', 'gain'], 0], 0, '#fff5eb', 0.3, '#fd8d3c', 1, '#a63603'],
      'fill-opacity': 0.75 } }, firstPointLayer(map, groups));
  map.addLayer({ id: 'whatif-line', type: 'line', source: 'hc-whatif',
    paint: { 'line-color': '#7f2704', 'line-width': 1.2 } }, firstPointLayer(map, groups));
  return groups;
}

function firstPointLayer(map, groups) {
  for (const g of ['sites', 'suggestions']) if (groups[g] && map.getLayer(groups[g][0])) return groups[g][0];
  return undefined;
}

/** The fill layers a pointer can hit, top-most first. */
export function hexFillLayers(groups) {
  return ['gaps', 'measured', 'predicted']
    .filter((g) => groups[g])
    .map((g) => groups[g].find((id) => id.endsWith('-fill')))
    .filter(Boolean);
}
