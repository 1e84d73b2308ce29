#!/usr/bin/env node
// End-to-end test of the hexcover web page in headless Chromium.
//
//   HEXCOVER_URL=http://127.0.0.1:18080 node tests/web/e2e.mjs
//
// Needs a running `hexcover serve STUDY --web web/dist` at HEXCOVER_URL (`make web-test`
// starts one), Debian's /usr/bin/chromium and playwright-core from web/node_modules.
// Checks that the map renders hex tiles, that a clicked hex shows its evidence, that a
// dropped site gets a what-if answer and that "suggest 2 sites in view" ranks two sites.
// Screenshots go to target/web-e2e/. Exits non-zero with a message on the first failure,
// on any uncaught page error, console error, failed request or request off the server.

import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(path.join(ROOT, 'web', 'package.json'));
const { chromium } = require('playwright-core');

const BASE = (process.env.HEXCOVER_URL || 'http://127.0.0.1:18080').replace(/\/+$/, '');
const OUT = path.resolve(process.env.HEXCOVER_E2E_OUT || path.join(ROOT, 'target', 'web-e2e'));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TOTAL_MS = Number(process.env.HEXCOVER_E2E_TIMEOUT_MS || 120_000);
const VIEWPORT = { width: 1400, height: 900 };
const BACKGROUND = [0xf4, 0xf1, 0xea]; // web/src/mapstyle.js BACKGROUND
const MEASURED_STATES = new Set(['measured', 'measured_no_signal', 'stale']);

// Headless Chromium without a GPU: WebGL runs on SwiftShader through ANGLE.
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  '--ignore-gpu-blocklist',
];

const t0 = Date.now();
let context = null;
let userDataDir = null;
let passed = 0;
const problems = []; // page errors, console errors, failed requests, offsite requests

function elapsed() {
  return `${((Date.now() - t0) / 1000).toFixed(1)} s`;
}

async function cleanup() {
  if (context) {
    const c = context;
    context = null;
    await Promise.race([c.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
  }
  if (userDataDir) {
    try {
      fs.rmSync(userDataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    } catch (e) {
      console.error(`note: could not remove ${userDataDir}: ${e.message}`);
    }
    userDataDir = null;
  }
}

let failing = false;
async function fail(message) {
  // A second failure (e.g. the deadline during a step) waits for the first to exit.
  if (failing) return new Promise(() => {});
  failing = true;
  console.error(`not ok - ${message}`);
  if (problems.length) console.error(`page problems:\n  ${problems.join('\n  ')}`);
  console.error(`${passed} passed, 1 failed`);
  await cleanup();
  process.exit(1);
}

const deadline = setTimeout(() => {
  fail(`e2e: gave up after ${TOTAL_MS / 1000} s in total`);
}, TOTAL_MS);

async function step(name, fn) {
  const s = Date.now();
  try {
    const detail = await fn();
    if (problems.length) throw new Error(`the page reported problems during this step`);
    passed += 1;
    console.log(`ok ${passed} - ${name}${detail ? `: ${detail}` : ''} (${Date.now() - s} ms)`);
  } catch (e) {
    await fail(`${name}: ${e && e.message ? e.message.split('\n')[0] : e}`);
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/** Wait until the map has no pending tiles or animation. */
async function mapIdle(page, timeout = 30_000) {
  await page.evaluate(
    (ms) =>
      new Promise((resolve, reject) => {
        const map = window.hexcoverMap;
        if (!map) return reject(new Error('window.hexcoverMap is not set'));
        const timer = setTimeout(() => reject(new Error(`map not idle after ${ms} ms`)), ms);
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        if (map.loaded() && map.areTilesLoaded() && !map.isMoving()) done();
        else map.once('idle', done);
        map.triggerRepaint();
      }),
    timeout,
  );
}

/** Page coordinates of a screen point on the map canvas, if nothing covers it. */
async function clientPoint(page, point) {
  return page.evaluate(({ x, y }) => {
    const canvas = window.hexcoverMap.getCanvas();
    const r = canvas.getBoundingClientRect();
    const cx = r.left + x;
    const cy = r.top + y;
    const top = document.elementFromPoint(cx, cy);
    return { x: cx, y: cy, free: top === canvas };
  }, point);
}

/** Panel text of an element by data-testid. */
const testid = (id) => `[data-testid="${id}"]`;

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  if (!fs.existsSync(CHROMIUM)) await fail(`no Chromium at ${CHROMIUM} (make web-deps installs Debian's chromium)`);
  const origin = new URL(BASE).origin;

  await step(`server answers at ${BASE}`, async () => {
    const res = await fetch(`${BASE}/healthz`);
    assert(res.ok, `GET /healthz → ${res.status}`);
    const body = await res.json();
    assert(body.status === 'ok', `GET /healthz → ${JSON.stringify(body)}`);
  });

  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hexcover-e2e-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: VIEWPORT,
    timeout: 30_000,
  });
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(30_000);

  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()} ${m.location().url || ''}`.trim());
  });
  page.on('requestfailed', (r) => {
    const why = r.failure() ? r.failure().errorText : '';
    // MapLibre cancels tiles it no longer needs; that is not a failure.
    if (why !== 'net::ERR_ABORTED') problems.push(`request failed: ${r.method()} ${r.url()} ${why}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
  // The page must work offline: nothing but the server may be asked for anything.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('data:') || url.startsWith('blob:') || new URL(url).origin === origin) return route.continue();
    problems.push(`request off the server: ${url}`);
    return route.abort();
  });

  let info;
  await step('page loads and the study is drawn', async () => {
    await page.goto(`${BASE}/`, { waitUntil: 'domcontentloaded' });
    await page.waitForFunction(() => ['true', 'error'].includes(document.documentElement.dataset.ready), null, { timeout: 40_000 });
    const ready = await page.evaluate(() => document.documentElement.dataset.ready);
    if (ready !== 'true') {
      const errs = await page.locator(testid('errors')).innerText().catch(() => '');
      throw new Error(`the page did not start: ${errs}`);
    }
    info = await page.evaluate(() => window.hexcover.info);
    assert(Array.isArray(info.bounds) && info.bounds.length === 4, `layers.bounds is ${JSON.stringify(info.bounds)}`);
    const names = (info.layers || []).map((l) => l.name);
    for (const n of ['measured', 'predicted', 'gaps', 'sites', 'suggestions']) assert(names.includes(n), `layer ${n} missing from /api/v1/layers (${names})`);
    for (const n of names) assert(await page.locator(testid(`layer-toggle-${n}`)).count() === 1, `no toggle for layer ${n}`);
    await mapIdle(page);
    return `${names.length} layers, bounds ${info.bounds.map((x) => x.toFixed(2)).join(',')}`;
  });

  // Canvas pixels that differ from the background, and how many distinct colours they have.
  const paintedPixels = () =>
    page.evaluate((bg) => {
      const src = window.hexcoverMap.getCanvas();
      const c = document.createElement('canvas');
      c.width = src.width;
      c.height = src.height;
      const g = c.getContext('2d');
      g.drawImage(src, 0, 0);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      let painted = 0;
      const colours = new Set();
      for (let i = 0; i < d.length; i += 4) {
        const diff = Math.abs(d[i] - bg[0]) + Math.abs(d[i + 1] - bg[1]) + Math.abs(d[i + 2] - bg[2]);
        if (diff > 24) {
          painted += 1;
          if (colours.size < 5000) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        }
      }
      return { painted, total: d.length / 4, colours: colours.size };
    }, BACKGROUND);

  await step('hex tiles are rendered on the canvas', async () => {
    const all = await paintedPixels();
    const share = all.painted / all.total;
    assert(all.painted >= 20_000 && share >= 0.01, `only ${all.painted} of ${all.total} canvas pixels differ from the background`);
    assert(all.colours >= 8, `only ${all.colours} distinct colours on the map: the colour scale is not applied`);
    await page.screenshot({ path: path.join(OUT, 'page.png') });
    // The measured hexes alone, without the predicted ones under them.
    await page.locator(testid('layer-toggle-predicted')).uncheck();
    await mapIdle(page);
    const measured = await paintedPixels();
    await page.locator(testid('layer-toggle-predicted')).check();
    await mapIdle(page);
    assert(measured.painted >= 10_000, `with predicted off only ${measured.painted} pixels are painted: measured hexes not drawn`);
    assert(measured.painted < all.painted, 'turning predicted off changed nothing on the canvas');
    assert(measured.colours >= 5, `measured hexes use only ${measured.colours} colours`);
    return `${all.painted} of ${all.total} pixels painted (${(share * 100).toFixed(1)} %), ${all.colours}+ colours; measured alone: ${measured.painted} pixels, ${measured.colours} colours`;
  });

  let target;
  await step('queryRenderedFeatures finds measured hexes', async () => {
    const found = await page.evaluate(() => {
      const map = window.hexcoverMap;
      const fs = map.queryRenderedFeatures({ layers: ['measured-fill'] });
      const canvas = map.getCanvas();
      const w = canvas.clientWidth;
      const h = canvas.clientHeight;
      const out = [];
      const seen = new Set();
      for (const f of fs) {
        const p = f.properties;
        if (seen.has(p.cell)) continue;
        seen.add(p.cell);
        const ring = f.geometry.type === 'Polygon' ? f.geometry.coordinates[0] : f.geometry.coordinates[0][0];
        let x = 0;
        let y = 0;
        const n = ring.length - 1;
        for (let i = 0; i < n; i++) {
          x += ring[i][0];
          y += ring[i][1];
        }
        const pt = map.project([x / n, y / n]);
        if (pt.x < 20 || pt.y < 20 || pt.x > w - 20 || pt.y > h - 20) continue;
        // The hex under its centre must be this one (top-most fill, not clipped away).
        const top = map.queryRenderedFeatures([pt.x, pt.y], { layers: ['measured-fill'] })[0];
        if (!top || top.properties.cell !== p.cell) continue;
        out.push({ props: p, point: { x: pt.x, y: pt.y } });
      }
      return { total: fs.length, cells: seen.size, candidates: out };
    });
    assert(found.total > 0, 'no feature in measured-fill');
    const bad = found.candidates.filter((c) => !MEASURED_STATES.has(c.props.state));
    assert(bad.length === 0, `measured hexes with state ${bad[0] && bad[0].props.state} (cell ${bad[0] && bad[0].props.cell})`);
    // Prefer a well-measured hex that was heard, so the stats are worth checking.
    const heard = found.candidates
      .filter((c) => c.props.state === 'measured' && typeof c.props.rssi_median_dbm === 'number')
      .sort((a, b) => (b.props.n_links || 0) - (a.props.n_links || 0));
    for (const c of heard) {
      const cp = await clientPoint(page, c.point);
      if (cp.free) {
        target = { ...c, client: cp };
        break;
      }
    }
    assert(target, `none of ${found.candidates.length} measured hexes can be clicked`);
    return `${found.cells} cells in view; clicking ${target.props.cell} (${target.props.n_links} links)`;
  });

  await step('clicking a hex fills the evidence panel', async () => {
    const cell = target.props.cell;
    await page.mouse.move(target.client.x, target.client.y);
    await page.waitForSelector(`${testid('tooltip')}:not([hidden])`, { timeout: 5_000 });
    const tip = await page.locator(testid('tooltip')).innerText();
    assert(tip.includes(cell), `the tooltip shows "${tip}", not cell ${cell}`);
    await page.mouse.click(target.client.x, target.client.y);
    await page.waitForFunction(
      (c) => {
        const el = document.querySelector('[data-testid="evidence"]');
        return el && el.dataset.cell === c && el.dataset.loaded !== 'false';
      },
      cell,
      { timeout: 15_000 },
    );
    const ev = page.locator(testid('evidence'));
    assert((await ev.getAttribute('data-loaded')) === 'true', `evidence failed: ${await ev.innerText()}`);
    const shownCell = await page.locator(testid('evidence-cell')).innerText();
    const shownState = await page.locator(testid('evidence-state')).innerText();
    assert(shownCell === cell, `evidence shows cell ${shownCell}, clicked ${cell}`);
    assert(shownState === target.props.state, `evidence state is ${shownState}, the tile says ${target.props.state}`);
    const median = await page.locator(testid('evidence-rssi-median')).innerText();
    const want = `${target.props.rssi_median_dbm.toFixed(1)} dBm`;
    assert(median === want, `evidence RSSI median is "${median}", the tile says ${want}`);
    const text = await ev.innerText();
    assert(/Receivers \(\d+\)/.test(text), 'no receivers list in the evidence');
    assert(text.includes('Prediction'), 'no prediction section in the evidence');
    const rx = await page.locator(`${testid('evidence-receivers')} tr`).count();
    await page.screenshot({ path: path.join(OUT, 'evidence.png') });
    return `${cell}: ${shownState}, median ${median}, ${Math.max(0, rx - 1)} receiver(s)`;
  });

  await step('toggling a layer hides and shows it', async () => {
    const count = () => page.evaluate(() => window.hexcoverMap.queryRenderedFeatures({ layers: ['measured-fill'] }).length);
    await page.locator(testid('layer-toggle-measured')).uncheck();
    await mapIdle(page);
    const off = await count();
    assert(off === 0, `${off} measured features still rendered after unchecking`);
    await page.locator(testid('layer-toggle-measured')).check();
    await mapIdle(page);
    const on = await count();
    assert(on > 0, 'no measured features after checking the toggle again');
    return `${on} features back`;
  });

  await step('dropping a site answers what-if', async () => {
    // A point inside the study: the centre of the clicked (measured) hex moved a little,
    // or the study's centre; it must be on the canvas and not under a marker.
    const candidates = [];
    const [w, s, e, n] = info.bounds;
    if (Array.isArray(info.center)) candidates.push(info.center);
    candidates.push([(w + e) / 2, (s + n) / 2]);
    for (const f of [0.4, 0.6, 0.45, 0.55]) candidates.push([w + (e - w) * f, s + (n - s) * (1 - f)]);
    let at = null;
    for (const lngLat of candidates) {
      const pt = await page.evaluate((ll) => window.hexcoverMap.project(ll), lngLat);
      const cp = await clientPoint(page, pt);
      if (cp.free) {
        at = { lngLat, client: cp };
        break;
      }
    }
    assert(at, 'no free point inside the study to drop a site on');
    await page.locator(testid('whatif-button')).click();
    const answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/whatif') && r.request().method() === 'POST', { timeout: 40_000 });
    await page.mouse.click(at.client.x, at.client.y);
    const sent = await answer;
    const body = await sent.json().catch(() => null);
    await page.waitForFunction(
      () => ['done', 'error'].includes(document.querySelector('[data-testid="whatif-result"]')?.dataset.status),
      null,
      { timeout: 40_000 },
    );
    const res = page.locator(testid('whatif-result'));
    const status = await res.getAttribute('data-status');
    assert(status === 'done', `what-if failed: ${await res.innerText()}`);
    const hexes = Number((await page.locator(testid('whatif-hexes')).innerText()).replace(/,/g, ''));
    const demand = Number(await page.locator(testid('whatif-demand')).innerText());
    assert(Number.isInteger(hexes) && hexes >= 0, `hexes added is not a count: ${hexes}`);
    assert(Number.isFinite(demand) && demand >= 0, `demand added is not a number: ${demand}`);
    assert(body && body.hexes_added === hexes, `the panel shows ${hexes} hexes added, the server said ${body && body.hexes_added}`);
    assert(demand.toFixed(2) === Number(body.demand_added).toFixed(2), `the panel shows demand ${demand}, the server said ${body.demand_added}`);
    const features = body.added && Array.isArray(body.added.features) ? body.added.features.length : 0;
    assert((await page.locator(testid('whatif-marker')).count()) === 1, 'no marker at the dropped site');
    await mapIdle(page);
    const drawn = await page.evaluate(() => window.hexcoverMap.queryRenderedFeatures({ layers: ['whatif-fill'] }).length);
    if (features > 0) assert(drawn > 0, `${features} added hexes in the answer but none drawn on the map`);
    await page.screenshot({ path: path.join(OUT, 'whatif.png') });
    return `site at ${at.lngLat.map((x) => x.toFixed(4)).join(',')}: ${hexes} hexes added, demand +${demand}, ${features} added hexes in the answer, ${drawn} drawn`;
  });

  await step('"suggest 2 sites in view" ranks two sites', async () => {
    await page.locator(testid('suggest-count')).fill('2');
    const label = await page.locator(testid('suggest-button')).innerText();
    assert(label.includes('2 sites'), `the button says "${label}"`);
    await page.locator(testid('suggest-button')).click();
    const sawProgress = page
      .waitForSelector(`${testid('suggest-progress')}:not([hidden])`, { timeout: 10_000 })
      .then(() => true, () => false);
    const left = Math.max(10_000, TOTAL_MS - (Date.now() - t0) - 10_000);
    await page.waitForFunction(
      () => ['done', 'error', 'failed'].includes(document.querySelector('[data-testid="suggest-result"]')?.dataset.status),
      null,
      { timeout: left },
    );
    const res = page.locator(testid('suggest-result'));
    const status = await res.getAttribute('data-status');
    assert(status === 'done', `placement ${status}: ${await res.innerText()}`);
    const ranks = await page.locator(testid('suggestion')).evaluateAll((els) => els.map((e) => Number(e.dataset.rank)));
    assert(ranks.length === 2, `${ranks.length} suggestions listed, asked for 2`);
    assert(ranks[0] === 1 && ranks[1] === 2, `ranks are ${ranks}`);
    const text = await res.innerText();
    assert(/gain [-\d.]+/.test(text), 'no gain in the suggestions list');
    assert(/bound/.test(text), 'no bound in the placement result');
    const markers = await page.locator(testid('suggestion-marker')).count();
    assert(markers === 2, `${markers} suggestion markers on the map`);
    await mapIdle(page);
    await page.screenshot({ path: path.join(OUT, 'placement.png') });
    const bound = text.split('\n').find((l) => l.includes('bound')) || '';
    return `ranks ${ranks.join(',')}${(await sawProgress) ? ', progress shown' : ''}; ${bound.replace(/\s+/g, ' ').trim()}`;
  });

  await step('no error in the panel', async () => {
    const hidden = await page.locator(testid('errors')).isHidden();
    if (!hidden) throw new Error(`the panel shows errors: ${(await page.locator(testid('errors')).innerText()).replace(/\s+/g, ' ')}`);
  });

  clearTimeout(deadline);
  await cleanup();
  console.log(`screenshots: ${path.relative(process.cwd(), OUT) || '.'}/{page,evidence,whatif,placement}.png`);
  console.log(`${passed} passed, 0 failed (${elapsed()})`);
}

main().catch((e) => fail(`e2e: ${e && e.stack ? e.stack : e}`));
