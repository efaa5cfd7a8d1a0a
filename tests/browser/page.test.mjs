// Browser test: the dashboard (web/index.html) in Debian's headless Chromium, driven by
// playwright-core, against a real camstream with the built-in demo: source only. Prints TAP.
// The RTSP camera, named streams, memory and the 4-tile screenshot are in dashboard.test.mjs.
//
// Environment: see helpers.mjs (CAMSTREAM_BIN is required).
// Run: npm ci --prefix tests/browser && CAMSTREAM_BIN=build/src/camstream node tests/browser/page.test.mjs

import { readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  ARTIFACTS, LIVE_TIMEOUT_MS, STATE_TIMEOUT_MS, WEB_ROOT, addTile, assert, assertMovingPicture,
  assertNoPageErrors, closePage, counters, diag, launchBrowser, newPage, run, sleep,
  startCamstream, test, tileCount, tileSel, tileStat, tileState, tileStatus, waitTileDrawn,
  waitTileState,
} from './helpers.mjs';

const RUN_TIMEOUT_MS = 180000;
// The policy camstream is to send as a header; index.html carries it in a <meta> without
// frame-ancestors (ignored there), so it holds from disk and in these tests too. media-src
// blob: is the FLV mode's <video> (a MediaSource's blob: URL); 'self' http: https: the HLS
// mode's (a playlist of camstream's, this one or another).
const CSP_HEADER = "default-src 'none'; script-src 'self'; style-src 'self'; " +
  "img-src 'self' data: blob: http: https:; media-src 'self' blob: http: https:; " +
  "connect-src 'self' ws: wss: http: https:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'self'";
const CSP_META = CSP_HEADER.replace(/; frame-ancestors [^;]*/, '');

let server = null;
const logs = () => (server ? `camstream output (last lines):\n${server.log.slice(-15).join('\n')}` : '');

async function openServed(options) {
  const page = await newPage(options);
  await page.goto(server.base + '/', { timeout: STATE_TIMEOUT_MS });
  return page;
}

/** A port on 127.0.0.1 that nothing listens on (just freed). */
async function closedPort() {
  const probe = createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Waits until the page knows whether its server answers; returns 'ok' or 'down'. */
async function serverCheck(page, want) {
  await page.waitForFunction((state) => document.getElementById('server-problem').dataset.state === state,
    want, { timeout: STATE_TIMEOUT_MS, polling: 50 });
  return page.isVisible('#server-problem');
}

/** The demo source is 1280x720 at 25 fps; the stats under the tile say so. */
async function assertDemoTile(page, i) {
  await waitTileState(page, i, ['live'], LIVE_TIMEOUT_MS);
  await waitTileDrawn(page, i, 5);
  const { second } = await assertMovingPicture(page, i, { minColours: 8 });
  assert(second.width === 1280 && second.height === 720,
    `canvas is ${second.width}x${second.height}, expected 1280x720`);
  const resolution = await tileStat(page, i, 'resolution');
  assert(resolution === '1280×720', `stats size "${resolution}"`);
  const fps = Number(await tileStat(page, i, 'fps'));
  assert(fps > 0, `stats fps is ${fps}`);
  const kbps = Number(await tileStat(page, i, 'kbps'));
  assert(kbps > 0, `stats KB/s is ${kbps}`);
}

async function main() {
  server = await startCamstream();
  diag(`camstream on port ${server.port}`);
  await launchBrowser();

  await test('GET / for a browser serves the dashboard; it starts empty and every control has a label', async () => {
    const page = await newPage();
    const response = await page.goto(server.base + '/', { timeout: STATE_TIMEOUT_MS });
    assert(response.status() === 200, `status ${response.status()}`);
    const type = response.headers()['content-type'] || '';
    assert(type.startsWith('text/html'), `content-type "${type}"`);
    assert((await tileCount(page)) === 0, 'a fresh browser has tiles');
    assert(await page.isVisible('#empty'), 'no "no cameras yet" hint');
    const serverField = await page.inputValue('#server');
    assert(serverField === server.ws, `server field "${serverField}", expected its own origin ${server.ws}`);
    await addTile(page, 'demo:');
    await page.click(`${tileSel(0)} [data-action="embed"]`);
    await page.click(`${tileSel(0)} [data-action="settings"]`);
    const unlabelled = await page.$$eval('input, select, textarea',
      (els) => els.filter((el) => el.labels.length === 0).map((el) => el.outerHTML.slice(0, 80)));
    assert(unlabelled.length === 0, `controls without a label: ${unlabelled.join(', ')}`);
    const unnamed = await page.$$eval('button', (els) => els
      .filter((b) => !(b.getAttribute('aria-label') || b.textContent.trim())).map((b) => b.outerHTML.slice(0, 80)));
    assert(unnamed.length === 0, `buttons without a name: ${unnamed.join(', ')}`);
    const live = await page.$$eval('#grid .tile [role="status"]', (els) => els.length);
    assert(live === 1, `the tile has ${live} status (aria-live) regions`);
    assert(!(await serverCheck(page, 'ok')), 'the page says its own server cannot be reached');
    assertNoPageErrors(page);
    await closePage(page);
  }, logs);

  await test('the page runs under its content security policy: no violation served or from disk, and the policy holds', async () => {
    const violations = async (page) => (await counters(page)).violations;
    /** Stylesheet and scripts loaded; a tile live, with its panels and a snapshot; no violation. */
    const exercise = async (page, where) => {
      const meta = await page.$$eval('meta[http-equiv="Content-Security-Policy"]', (els) => els.map((m) => m.content));
      assert(meta.length === 1 && meta[0] === CSP_META, `${where}: CSP <meta> ${JSON.stringify(meta)}`);
      const look = await page.evaluate(() => ({
        sprites: getComputedStyle(document.querySelector('.icon-sprites')).position,
        grid: getComputedStyle(document.getElementById('grid')).display,
      }));
      assert(look.sprites === 'absolute' && look.grid === 'grid', `${where}: the stylesheet is not applied: ${JSON.stringify(look)}`);
      await addTile(page, 'demo:', { width: 320 });
      await waitTileState(page, 0, ['live'], LIVE_TIMEOUT_MS);
      await page.click(`${tileSel(0)} [data-action="embed"]`);
      await page.click(`${tileSel(0)} [data-action="settings"]`);
      const snippet = await page.inputValue(`${tileSel(0)} [data-snippet="ws"]`);
      assert(snippet.includes('<script>'), `${where}: the WebSocket snippet is "${snippet.slice(0, 80)}"`);
      await Promise.all([page.waitForEvent('download', { timeout: STATE_TIMEOUT_MS }),
        page.click(`${tileSel(0)} [data-action="snapshot"]`)]);
      await page.click('#share');
      const seen = await violations(page);
      assert(seen.length === 0, `${where}: CSP violations:\n${seen.join('\n')}`);
    };

    const page = await newPage();
    const response = await page.goto(server.base + '/', { timeout: STATE_TIMEOUT_MS });
    const header = response.headers()['content-security-policy'];
    assert(header === CSP_HEADER, `content-security-policy header "${header}"`);
    await exercise(page, 'served');
    // The policy is enforced, so "no violation" above means something: an inline script and
    // a style attribute are refused, and say so.
    const ran = await page.evaluate(() => {
      const script = document.createElement('script');
      script.textContent = 'window.__inlineRan = true;';
      document.body.append(script);
      const box = document.createElement('div');
      box.innerHTML = '<i style="color: red">x</i>';
      document.body.append(box);
      return window.__inlineRan === true;
    });
    assert(!ran, 'an inline script ran: the CSP is not in force');
    await page.waitForFunction(() => window.__camstreamTest.violations.length >= 2, null, { timeout: STATE_TIMEOUT_MS });
    const refused = (await violations(page)).join('\n');
    assert(/script-src-elem/.test(refused) && /style-src-attr/.test(refused), `violations: ${refused}`);
    assertNoPageErrors(page, [/Content Security Policy/]);
    await closePage(page);

    const disk = await newPage();
    await disk.goto(pathToFileURL(path.join(WEB_ROOT, 'index.html')).href, { timeout: STATE_TIMEOUT_MS });
    await disk.fill('#server', server.ws);
    await disk.press('#server', 'Tab');
    await exercise(disk, 'file://');
    assertNoPageErrors(disk, [/Failed to load resource: net::ERR_CONNECTION_REFUSED/]);
    await closePage(disk);
  }, logs);

  await test('a newcomer presses "Show the demo" on the empty page and sees it moving', async () => {
    const page = await openServed();
    assert((await tileCount(page)) === 0, 'a fresh browser has tiles');
    await page.click('#add-demo');
    await assertDemoTile(page, 0);
    assert(!(await page.isVisible('#empty')), 'the "no cameras yet" hint stays after adding');
    assertNoPageErrors(page);
    await closePage(page);
  }, logs);

  await test('served page: adding demo: (Enter in the URL field) shows a moving 1280x720 picture with fps, size and KB/s', async () => {
    const page = await openServed();
    await page.fill('#url', 'demo:');
    await page.press('#url', 'Enter');
    await assertDemoTile(page, 0);
    assertNoPageErrors(page);
    await closePage(page);
  }, logs);

  await test('page opened from file:// defaults to ws://127.0.0.1:8000 and shows demo: once the server is set', async () => {
    const page = await newPage();
    await page.goto(pathToFileURL(path.join(WEB_ROOT, 'index.html')).href, { timeout: STATE_TIMEOUT_MS });
    const preset = await page.inputValue('#server');
    assert(preset === 'ws://127.0.0.1:8000', `file:// default server "${preset}"`);
    await page.fill('#server', `127.0.0.1:${server.port}`); // a bare host:port is accepted
    await page.press('#server', 'Tab');                     // "change" fires on leaving the field
    assert((await page.inputValue('#server')) === server.ws, 'the server field was not normalised');
    assert(!(await serverCheck(page, 'ok')), 'the server is set and answers, yet the page says it cannot reach it');
    await addTile(page, 'demo:');
    await assertDemoTile(page, 0);
    // This server has no named streams: the picker stays hidden, URLs still work.
    assert(await page.isHidden('#named-field'), 'the named-stream picker shows for a server without streams');
    // Before the server was set, the page asked ws://127.0.0.1:8000 for its named streams.
    assertNoPageErrors(page, [/Failed to load resource: net::ERR_CONNECTION_REFUSED/]);
    await closePage(page);
  }, logs);

  await test('page opened from disk with no camstream at its address says so (address, tools/dev.sh run), tiles keep their own errors', async () => {
    const port = await closedPort();
    const address = `ws://127.0.0.1:${port}`;
    const layout = { server: address, tiles: [{ url: 'demo:', options: { width: '320' } }] };
    const page = await newPage({ tuning: { serverCheckMs: 500, backoffFirstMs: 500, backoffMaxMs: 1000 } });
    await page.goto(pathToFileURL(path.join(WEB_ROOT, 'index.html')).href + '#layout=' +
      Buffer.from(JSON.stringify(layout)).toString('base64url'), { timeout: STATE_TIMEOUT_MS });
    assert(await serverCheck(page, 'down'), 'the server problem is not shown');
    const text = (await page.textContent('#server-problem')).replace(/\s+/g, ' ');
    for (const want of [`Cannot reach camstream at ${address}`, `http://127.0.0.1:${port}/api/health`, 'tools/dev.sh run']) {
      assert(text.includes(want), `the server problem says "${text}", without "${want}"`);
    }
    assert((await page.getAttribute('#server-problem', 'role')) === 'alert', 'the server problem is not announced');
    await waitTileState(page, 0, ['reconnecting']);
    const status = await tileStatus(page, 0);
    assert(status.includes(`Cannot reach ${address}`), `the tile says "${status}"`);
    assert(await page.isHidden('#named-field'), 'a named-stream picker without a server');

    // camstream starts there: the notice goes, the tile connects without waiting out its backoff
    const late = await startCamstream([], port);
    try {
      assert(!(await serverCheck(page, 'ok')), 'the server problem stays once the server answers');
      await waitTileState(page, 0, ['live'], LIVE_TIMEOUT_MS);
    } finally {
      await late.stop();
    }
    assertNoPageErrors(page, [/Failed to load resource: net::ERR_CONNECTION_REFUSED/, /WebSocket connection to .* failed/]);
    await closePage(page);
  }, logs);

  await test('a refused URL (file:/etc/passwd) shows the server error text and code in the tile and is not retried (1008)', async () => {
    const page = await openServed();
    const badUrl = 'file:/etc/passwd';
    // What the server itself says, read with a bare WebSocket in the same browser.
    const wire = await page.evaluate(({ base, url }) => new Promise((resolve) => {
      const ws = new WebSocket(`${base}/ws/stream?rtsp_url=${encodeURIComponent(url)}`);
      const texts = [];
      ws.onmessage = (e) => { if (typeof e.data === 'string') texts.push(e.data); };
      ws.onclose = (e) => resolve({ texts, code: e.code });
      setTimeout(() => resolve({ texts, code: 'no close within 8 s' }), 8000);
    }), { base: server.ws, url: badUrl });
    assert(wire.code === 1008, `server closed with ${wire.code}, expected 1008`);
    const message = JSON.parse(wire.texts[0]);
    assert(message.code === 'scheme_not_allowed', `server code "${message.code}"`);

    const before = (await counters(page)).sockets.length;
    await addTile(page, badUrl);
    await waitTileState(page, 0, ['error']);
    const text = await tileStatus(page, 0);
    assert(text.includes(message.error), `status "${text}" lacks the server's text "${message.error}"`);
    assert(text.includes('scheme_not_allowed'), `status "${text}" lacks the code`);
    assert(text.includes('1008'), `status "${text}" lacks the close code`);
    await sleep(3000);
    const sockets = (await counters(page)).sockets.length - before;
    assert(sockets === 1, `the tile opened ${sockets} sockets in 3 s; a 1008 must not be retried`);
    assert((await tileState(page, 0)) === 'error', `state "${await tileState(page, 0)}" 3 s later`);
    assert(await page.isVisible(`${tileSel(0)} [data-action="retry"]`), 'no Retry button');
    await page.click(`${tileSel(0)} [data-action="retry"]`); // the person may try again
    await page.waitForFunction((n) => window.__camstreamTest.sockets.length > n, before + 1,
      { timeout: STATE_TIMEOUT_MS });
    assertNoPageErrors(page);
    await closePage(page);
  }, logs);

  await test('frame age from the JPEG timing comment is shown for demo: and is under 1 s', async () => {
    const page = await openServed();
    await addTile(page, 'demo:', { width: 640 });
    await waitTileState(page, 0, ['live'], LIVE_TIMEOUT_MS);
    await waitTileDrawn(page, 0, 25);
    await page.waitForTimeout(600); // the stats refresh twice a second
    const age = await tileStat(page, 0, 'age');
    const m = /^(\d+(?:\.\d+)?) (ms|s)$/.exec(age);
    assert(m, `age shows "${age}"`);
    const ms = Number(m[1]) * (m[2] === 's' ? 1000 : 1);
    assert(ms < 1000, `frame age ${ms} ms`);
    diag(`frame age ${age}`);
    assertNoPageErrors(page);
    await closePage(page);
  }, logs);

  await test('the snapshot button downloads the newest JPEG, timing comment included', async () => {
    const page = await openServed();
    await addTile(page, 'demo:', { width: 320 });
    await waitTileState(page, 0, ['live'], LIVE_TIMEOUT_MS);
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: STATE_TIMEOUT_MS }),
      page.click(`${tileSel(0)} [data-action="snapshot"]`),
    ]);
    const name = download.suggestedFilename();
    assert(/^demo_-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.jpg$/.test(name), `file name "${name}"`);
    const file = path.join(ARTIFACTS, 'snapshot.jpg');
    await download.saveAs(file);
    const bytes = readFileSync(file);
    assert(bytes[0] === 0xff && bytes[1] === 0xd8, 'not a JPEG');
    assert(bytes.subarray(6, 18).toString('latin1') === 'camstream t=', 'no timing comment');
    await page.waitForFunction(() => window.__camstreamTest.revoked === window.__camstreamTest.urls,
      null, { timeout: 5000 });
    assertNoPageErrors(page);
    await closePage(page);
  }, logs);

  await test('the fullscreen button shows one tile fullscreen and a second press leaves it', async () => {
    const page = await openServed();
    await addTile(page, 'demo:', { width: 320 });
    await addTile(page, 'demo:', { width: 320, fps: 5 });
    const button = `${tileSel(1)} [data-action="fullscreen"]`;
    await page.click(button);
    await page.waitForFunction((sel) => document.fullscreenElement === document.querySelector(sel),
      tileSel(1), { timeout: STATE_TIMEOUT_MS });
    // the page sets aria-pressed on 'fullscreenchange', which fires after fullscreenElement is set
    await page.waitForFunction((sel) => document.querySelector(sel).getAttribute('aria-pressed') === 'true',
      button, { timeout: STATE_TIMEOUT_MS }).catch(() => {});
    assert((await page.getAttribute(button, 'aria-pressed')) === 'true', 'aria-pressed not set');
    await page.click(button);
    await page.waitForFunction(() => document.fullscreenElement === null, null, { timeout: STATE_TIMEOUT_MS });
    assertNoPageErrors(page);
    await closePage(page);
  }, logs);

  await test('embed panel: the <img> and WebSocket snippets show the camera in another page; passwords are placeholders', async () => {
    const page = await openServed();
    await addTile(page, 'demo:', { width: 320, fps: 10 });
    await waitTileState(page, 0, ['live'], LIVE_TIMEOUT_MS);
    await page.click(`${tileSel(0)} [data-action="embed"]`);
    const img = await page.inputValue(`${tileSel(0)} [data-snippet="img"]`);
    const script = await page.inputValue(`${tileSel(0)} [data-snippet="ws"]`);
    assert(img.includes(`${server.base}/mjpeg?rtsp_url=demo%3A&amp;fps=10&amp;width=320`), `img snippet: ${img}`);

    const other = await newPage();
    await other.setContent(`<!DOCTYPE html><body>${img}\n${script}</body>`);
    await other.waitForFunction(() => {
      const im = document.querySelector('img');
      const canvas = document.querySelector('canvas');
      return im.naturalWidth === 320 && canvas.width === 320;
    }, null, { timeout: LIVE_TIMEOUT_MS });
    assertNoPageErrors(other);
    await closePage(other);

    // A URL with a password holding "@" and "&" and a secret query value.
    const camera = 'rtsp://admin:p@ss&word@127.0.0.1:9/cam?token=abc&channel=1';
    await addTile(page, camera);
    await page.click(`${tileSel(1)} [data-action="embed"]`);
    const decoded = async () => {
      const text = await page.inputValue(`${tileSel(1)} [data-snippet="img"]`);
      const src = await page.evaluate((html) =>
        new DOMParser().parseFromString(html, 'text/html').querySelector('img').getAttribute('src'), text);
      return { text, url: new URL(src).searchParams.get('rtsp_url') };
    };
    const hidden = await decoded();
    assert(hidden.url === 'rtsp://USER:PASSWORD@127.0.0.1:9/cam?token=SECRET&channel=1', `placeholder URL ${hidden.url}`);
    const ws = await page.inputValue(`${tileSel(1)} [data-snippet="ws"]`);
    assert(!ws.includes('p@ss') && !ws.includes('abc'), 'a secret is in the WebSocket snippet');
    await page.check(`${tileSel(1)} [data-role="embed-secret"]`);
    const shown = await decoded();
    assert(shown.url === camera, `with the password the snippet's camera URL is ${shown.url}`);
    assertNoPageErrors(page);
    await closePage(page);
  }, logs);

  await test('embed panel: a camera URL\'s says why a name is better; "Save as named stream" moves the tile and its snippets to the name', async () => {
    const page = await openServed();
    const name = 'embed-demo';
    await addTile(page, 'demo:', { width: 320 });
    await waitTileState(page, 0, ['live'], LIVE_TIMEOUT_MS);
    await page.click(`${tileSel(0)} [data-action="embed"]`);
    const offer = `${tileSel(0)} .embed-named`;
    assert(await page.isVisible(offer), 'no named-stream offer in the embed panel of a camera URL');
    const why = await page.textContent(`${offer} .embed-why`);
    assert(/named stream is better/.test(why) && /load balancer/.test(why), `the reason given: "${why}"`);
    assert(await page.isVisible(`${offer} [data-action="save-named"]`), 'no Save button');
    assert(!(await page.isVisible(`${offer} .embed-cluster`)), 'a lone camstream is said to be a cluster');
    const field = `${offer} [data-role="stream-name"]`;
    assert((await page.inputValue(field)) === 'demo', `suggested name "${await page.inputValue(field)}"`);

    // from the keyboard: type the name, Enter saves
    await page.fill(field, name);
    await page.focus(field);
    await page.keyboard.press('Enter');
    const note = `${tileSel(0)} .embed-save-note`;
    await page.waitForFunction((sel) => /^Saved as/.test(document.querySelector(sel).textContent), note,
      { timeout: STATE_TIMEOUT_MS }).catch(async () => {
      throw new Error(`the panel said "${await page.textContent(note)}"`);
    });
    assert(!(await page.isVisible(offer)), 'the offer stays on a named tile');
    const img = await page.inputValue(`${tileSel(0)} [data-snippet="img"]`);
    const ws = await page.inputValue(`${tileSel(0)} [data-snippet="ws"]`);
    assert(img.includes(`${server.base}/mjpeg?name=${name}&amp;width=320`), `img snippet: ${img}`);
    assert(ws.includes(`/ws/stream?name=${name}&width=320`) && !ws.includes('rtsp_url'), `ws snippet: ${ws}`);
    assert((await page.evaluate(() => document.activeElement.dataset.copy)) === 'img', 'the keyboard left the panel');
    assert((await page.textContent(`${tileSel(0)} .tile-title`)) === name, 'the tile is not titled by its name');
    await waitTileState(page, 0, ['live'], LIVE_TIMEOUT_MS);
    const urls = (await counters(page)).sockets.map((s) => s.url);
    assert(urls[urls.length - 1].endsWith(`/ws/stream?name=${name}&width=320`), `the tile asked ${urls[urls.length - 1]}`);
    const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('camstream.dashboard.v1')).tiles[0]);
    assert(stored.name === name && stored.url === undefined, `the layout keeps ${JSON.stringify(stored)}`);
    const status = await fetch(`${server.base}/api/streams/${name}`, { signal: AbortSignal.timeout(5000) });
    assert(status.status === 200, `GET /api/streams/${name}: ${status.status}`);

    // a named tile's panel, opened anew, offers nothing
    await page.click(`${tileSel(0)} [data-action="embed"]`);
    await page.click(`${tileSel(0)} [data-action="embed"]`);
    assert(!(await page.isVisible(offer)), 'a named tile offers to become a named stream');

    // the name suggested for a camera with a password holds none of it
    await addTile(page, 'rtsp://admin:s3cr3tPass@127.0.0.1:9/cam?token=abc');
    await page.click(`${tileSel(1)} [data-action="embed"]`);
    assert((await page.inputValue(`${tileSel(1)} [data-role="stream-name"]`)) === '127.0.0.1-cam', 'suggested name');
    const panel = await page.$eval(`${tileSel(1)} .embed-panel`, (el) => el.innerText);
    assert(!panel.includes('s3cr3tPass') && !panel.includes('abc'), 'a secret is in the embed panel');
    assertNoPageErrors(page, [/WebSocket connection to .* failed/]);
    await closePage(page);
    const removed = await fetch(`${server.base}/api/streams/${name}`, { method: 'DELETE', signal: AbortSignal.timeout(5000) });
    assert(removed.status < 300, `DELETE /api/streams/${name}: ${removed.status}`);
  }, logs);

  await test('embed panel in a cluster: the page says names come from the config file, and a 409 cluster_config reads as words', async () => {
    const port = await closedPort();
    const peers = `http://127.0.0.1:${port},http://127.0.0.1:${await closedPort()}`;
    const member = await startCamstream(['--cluster-peers', peers, '--cluster-self', '1'], port);
    try {
      // served by the cluster's instance: GET /api/streams says "cluster", so no Save button
      const page = await newPage();
      await page.goto(member.base + '/', { timeout: STATE_TIMEOUT_MS });
      await addTile(page, 'demo:', { width: 320 });
      await page.click(`${tileSel(0)} [data-action="embed"]`);
      const offer = `${tileSel(0)} .embed-named`;
      await page.waitForSelector(`${offer} .embed-cluster`, { state: 'visible', timeout: STATE_TIMEOUT_MS });
      const said = await page.textContent(`${offer} .embed-cluster`);
      assert(/cluster/.test(said) && /config file/.test(said), `the panel said "${said}"`);
      assert(!(await page.isVisible(`${offer} [data-action="save-named"]`)), 'a Save button in a cluster');
      assert(await page.isVisible(`${offer} .embed-why`), 'the reason for names is gone');
      assertNoPageErrors(page);
      await closePage(page);

      // a page that did not know (its GET went to a lone camstream) meets the cluster's 409
      const other = await openServed();
      await other.route(`${server.base}/api/streams`, (route) => (route.request().method() === 'POST'
        ? route.continue({ url: `${member.base}/api/streams` }) : route.continue()));
      await addTile(other, 'demo:', { width: 320 });
      await other.click(`${tileSel(0)} [data-action="embed"]`);
      await other.fill(`${tileSel(0)} [data-role="stream-name"]`, 'wall-1');
      await other.click(`${tileSel(0)} [data-action="save-named"]`);
      const note = `${tileSel(0)} .embed-save-note`;
      await other.waitForFunction((sel) => document.querySelector(sel).dataset.kind === 'error', note,
        { timeout: STATE_TIMEOUT_MS });
      const text = await other.textContent(note);
      assert(/cluster/.test(text) && /config file/.test(text) && text.includes('"wall-1"'), `the panel said "${text}"`);
      assert(!/cluster_config|409/.test(text), `the panel shows a code: "${text}"`);
      // the tile's one live region is its status line: the refusal is the name field's
      // description, and the field has the focus
      const described = await other.evaluate(() => {
        const a = document.activeElement;
        return a.dataset.role === 'stream-name' ? document.getElementById(a.getAttribute('aria-describedby')).textContent : null;
      });
      assert(described === text, `the focused field reads "${described}"`);
      assert((await other.textContent(`${tileSel(0)} .tile-title`)) === 'demo:', 'the tile changed anyway');
      assertNoPageErrors(other, [/status of 409/]);
      await closePage(other);
    } finally {
      await member.stop('SIGTERM');
    }
  }, logs);

  await test('removing a tile closes its socket and every ImageBitmap it made', async () => {
    const page = await openServed();
    await addTile(page, 'demo:', { width: 640 });
    await waitTileDrawn(page, 0, 10);
    await page.focus(`${tileSel(0)} [data-action="close"]`);
    await page.keyboard.press('Enter'); // the buttons work from the keyboard
    await page.waitForFunction(() => document.querySelectorAll('#grid > .tile').length === 0, null,
      { timeout: STATE_TIMEOUT_MS });
    await page.waitForFunction(() => {
      const c = window.__camstreamTest;
      return c.bitmaps > 0 && c.bitmaps === c.closed;
    }, null, { timeout: STATE_TIMEOUT_MS, polling: 50 }).catch(async () => {
      const c = await counters(page);
      throw new Error(`ImageBitmaps created ${c.bitmaps}, closed ${c.closed}`);
    });
    const c = await counters(page);
    assert(c.urls === c.revoked, `object URLs created ${c.urls}, revoked ${c.revoked}`);
    assert(await page.isVisible('#empty'), 'the empty hint is back');
    assert((await page.evaluate(() => document.activeElement.id)) === 'url', 'focus was lost');
    assertNoPageErrors(page);
    await closePage(page);
  }, logs);

  await test('a hidden tab stops drawing at once, closes its sockets later, and resumes when shown', async () => {
    const page = await openServed({ tuning: { hiddenCloseMs: 1500 } });
    await addTile(page, 'demo:', { width: 320 });
    await waitTileDrawn(page, 0, 10);
    const setVisibility = (state) => page.evaluate((s) => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => s });
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => s === 'hidden' });
      document.dispatchEvent(new Event('visibilitychange'));
    }, state);
    const read = () => page.$eval(tileSel(0), (el) => ({ frames: Number(el.dataset.frames), drawn: Number(el.dataset.drawn) }));
    await setVisibility('hidden');
    // The counters are written every TUNING.statsMs (500 ms): start from the first write after
    // hiding, or pictures drawn just before it would count as drawn while hidden.
    const atHide = await read();
    await page.waitForFunction(({ sel, frames }) => Number(document.querySelector(sel).dataset.frames) !== frames,
      { sel: tileSel(0), frames: atHide.frames }, { timeout: STATE_TIMEOUT_MS, polling: 20 });
    const a = await read();
    await sleep(700);
    const b = await read();
    assert(b.frames > a.frames, 'no frames arrived while hidden (the socket should stay open at first)');
    assert(b.drawn - a.drawn <= 1, `drew ${b.drawn - a.drawn} pictures while hidden`);
    await waitTileState(page, 0, ['paused'], 5000);
    await setVisibility('visible');
    await waitTileState(page, 0, ['live'], LIVE_TIMEOUT_MS);
    await waitTileDrawn(page, 0, b.drawn + 5);
    assertNoPageErrors(page);
    await closePage(page);
  }, logs);

  await test('the layout (tiles, options, server) survives a reload', async () => {
    const page = await openServed();
    await addTile(page, 'demo:', { width: 320, fps: 5, quality: 50 });
    await addTile(page, 'demo:', { width: 480 });
    await page.click(`${tileSel(0)} [data-action="settings"]`);
    await page.fill(`${tileSel(0)} .settings-panel [data-option="fps"]`, '8');
    await page.click(`${tileSel(0)} .settings-panel button[type="submit"]`);
    await page.reload({ timeout: STATE_TIMEOUT_MS });
    assert((await tileCount(page)) === 2, `${await tileCount(page)} tiles after the reload`);
    await waitTileState(page, 0, ['live'], LIVE_TIMEOUT_MS);
    await waitTileState(page, 1, ['live'], LIVE_TIMEOUT_MS);
    const urls = (await counters(page)).sockets.map((s) => s.url);
    assert(urls[0].endsWith('/ws/stream?rtsp_url=demo%3A&fps=8&width=320&quality=50'), `first tile asked ${urls[0]}`);
    assert(urls[1].endsWith('/ws/stream?rtsp_url=demo%3A&width=480'), `second tile asked ${urls[1]}`);
    const sub = await page.textContent(`${tileSel(0)} .tile-sub`);
    assert(sub.includes('8 fps') && sub.includes('320 px'), `tile options "${sub}"`);
    assertNoPageErrors(page);
    await closePage(page);
  }, logs);

  await test('a share link opens the same layout in another browser, without the passwords', async () => {
    const page = await openServed();
    await addTile(page, 'demo:', { width: 320 });
    await addTile(page, 'rtsp://viewer:s3cr3tPass@127.0.0.1:9/secure?channel=2');
    await page.click('#share');
    const link = await page.inputValue('#share-link');
    assert(/#layout=[A-Za-z0-9_-]+$/.test(link), `share link ${link}`);
    const json = Buffer.from(link.split('#layout=')[1], 'base64url').toString('utf8');
    assert(!json.includes('s3cr3tPass') && !json.includes('viewer'), `the link holds a credential: ${json}`);

    const other = await newPage();
    await other.goto(link, { timeout: STATE_TIMEOUT_MS });
    assert((await tileCount(other)) === 2, `${await tileCount(other)} tiles from the link`);
    await waitTileState(other, 0, ['live'], LIVE_TIMEOUT_MS);
    await waitTileState(other, 1, ['credentials']);
    const title = await other.textContent(`${tileSel(1)} .tile-title`);
    assert(title === '127.0.0.1:9/secure?channel=2', `second tile title "${title}"`);
    assert(!(await other.evaluate(() => location.hash)), 'the hash stays after the layout was taken');
    assertNoPageErrors(other);
    await closePage(other);
    await closePage(page);
  }, logs);

  await test('keyboard only: Tab reaches the add form, the tile buttons and the embed snippets', async () => {
    const page = await openServed();
    await addTile(page, 'demo:', { width: 320 });
    await page.click(`${tileSel(0)} [data-action="embed"]`);
    await page.focus('#server');
    const seen = new Set();
    for (let k = 0; k < 40; k++) {
      await page.keyboard.press('Tab');
      const id = await page.evaluate(() => {
        const a = document.activeElement;
        return a.id || a.dataset.action || a.dataset.copy || a.dataset.snippet || a.tagName;
      });
      seen.add(id);
    }
    for (const want of ['remember', 'share', 'url', 'add-url', 'snapshot', 'fullscreen', 'embed', 'settings', 'close', 'img', 'ws']) {
      assert(seen.has(want), `Tab never reached ${want} (reached ${[...seen].join(', ')})`);
    }
    assertNoPageErrors(page);
    await closePage(page);
  }, logs);

  await test('phone width (360 px): no sideways scrolling with two tiles, a long URL and an open embed panel', async () => {
    const page = await openServed({ viewport: { width: 360, height: 740 } });
    await addTile(page, 'demo:', { width: 320 });
    await addTile(page, 'rtsp://admin:secret@camera-in-the-far-corridor.example.internal:554/cam/realmonitor?channel=1&subtype=0');
    await page.click(`${tileSel(0)} [data-action="embed"]`);
    await waitTileDrawn(page, 0, 5);
    const layout = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      inner: window.innerWidth,
      widest: Math.max(...[...document.querySelectorAll('body *')].map((e) => e.getBoundingClientRect().right)),
    }));
    assert(layout.scroll <= layout.inner, `page scrolls sideways (${layout.scroll} > ${layout.inner})`);
    assert(layout.widest <= layout.inner + 0.5, `an element reaches x=${layout.widest}`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'page-phone.png'), fullPage: true });
    assertNoPageErrors(page);
    await closePage(page);
  }, logs);

  let livePage = null; // kept open for the restart
  await test('server shutdown (1001) makes the tile say it reconnects, with a countdown; camstream exits 0', async () => {
    livePage = await openServed({ tuning: { backoffFirstMs: 1000, backoffMaxMs: 2000 } });
    await addTile(livePage, 'demo:', { width: 320 });
    await waitTileState(livePage, 0, ['live'], LIVE_TIMEOUT_MS);
    const { code, signal } = await server.stop('SIGTERM');
    assert(code === 0, `camstream exited with code ${code}, signal ${signal}`);
    await waitTileState(livePage, 0, ['reconnecting']);
    const text = await tileStatus(livePage, 0);
    assert(/\(close 1001\)/.test(text) || /Cannot reach/.test(text), `status "${text}"`);
    assert(/Reconnecting in \d+ s/.test(text) || /Reconnecting now/.test(text), `no countdown in "${text}"`);
    assertNoPageErrors(livePage);
  }, logs);

  await test('a camstream restarted on the same port brings the picture back by itself', async () => {
    assert(livePage, 'no page left from the test before');
    server = await startCamstream([], server.port);
    await waitTileState(livePage, 0, ['live'], LIVE_TIMEOUT_MS);
    await assertMovingPicture(livePage, 0);
    // The failed attempts while it was down ("connection refused") are logged by Chromium.
    assertNoPageErrors(livePage, [/WebSocket connection to .* failed/]);
    await closePage(livePage);
  }, logs);

  const phone = path.join(ARTIFACTS, 'page-phone.png');
  diag(`phone screenshot: ${phone} (${statSync(phone, { throwIfNoEntry: false })?.size || 0} bytes)`);
}

await run(main, RUN_TIMEOUT_MS);
