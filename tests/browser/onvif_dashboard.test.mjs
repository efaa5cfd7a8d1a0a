// Browser test: the dashboard's "Find cameras" panel (web/js/onvif.js) in Debian's headless
// Chromium, served by a real camstream (--onvif-discovery off), with the fake ONVIF device
// (tests/integration/onvif_fake.py, WS-Security, user "viewer") whose MainStream points at the
// gst-rtsp-server fixture's /secure mount (tests/integration/rtsp_server.py), which plays only
// with the fixture's Basic credentials, the same as the fake's: a tile or a named stream made
// from the profile plays only if the password typed in the panel reached the camera. The
// search says discovery is off; the address is typed by hand; a wrong password reads as such;
// MainStream added as a tile plays, without the password in the page's text, address or
// storage; saved as a named stream it is listed by GET /api/streams with "password":"***" and
// its tile plays; a device or a stream URI outside --allow-hosts shows camstream's message and
// such a profile cannot be added; a device the search found (its answer played to the page:
// multicast depends on the machine) is chosen and probed by its device service URL. Prints TAP.
//
// Environment: see helpers.mjs (CAMSTREAM_BIN is required).
// Run: CAMSTREAM_BIN=build/src/camstream node tests/browser/onvif_dashboard.test.mjs

import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  GI_PYTHON, LIVE_TIMEOUT_MS, START_TIMEOUT_MS, STATE_TIMEOUT_MS, assert, assertMovingPicture,
  assertNoPageErrors, closePage, diag, launchBrowser, newPage, onCleanup, run, startCamstream,
  startRtspServer, test, tileCount, tileSel, waitTileState, withTimeout,
} from './helpers.mjs';

const RUN_TIMEOUT_MS = 60000;
const FAKE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'integration', 'onvif_fake.py');
// rtsp_server.py's /secure credentials (SECURE_USER, SECURE_PASSWORD), given to the fake too
const USER = 'viewer';
const PASSWORD = 's3cr3tPass';
const DISCOVERY_OFF = 'ONVIF discovery is off (--onvif-discovery off)';
// the 4xx answers the panel shows are logged by Chromium as failed loads, not page errors
const REFUSALS = [/Failed to load resource: the server responded with a status of 4\d\d/];

let server = null;
let rtsp = null;
let fake = null;
let elsewhere = null;

/** The fake ONVIF device: {proc, log, port, xaddr}; stopped at the end of the run. */
async function startFake(args) {
  const proc = spawn(GI_PYTHON, [FAKE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = [];
  const keep = (line) => { log.push(line); if (log.length > 100) log.shift(); };
  createInterface({ input: proc.stderr }).on('line', keep);
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  onCleanup(async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    await withTimeout(exited, 10000, 'onvif_fake.py exit').catch(() => proc.kill('SIGKILL'));
  });
  const ready = new Promise((resolve, reject) => {
    createInterface({ input: proc.stdout }).on('line', (line) => {
      keep(line);
      const m = /^READY port=(\d+) xaddr=(\S+)$/.exec(line);
      if (m) resolve({ proc, log, port: Number(m[1]), xaddr: m[2] });
    });
    proc.on('error', reject);
    exited.then((code) => reject(new Error(`onvif_fake.py exited (${code}):\n${log.join('\n')}`)));
  });
  return withTimeout(ready, START_TIMEOUT_MS, 'onvif_fake.py start');
}

const logs = () => [
  server ? `camstream output (last lines):\n${server.log.slice(-12).join('\n')}` : '',
  fake ? `onvif_fake.py output (last lines):\n${fake.log.slice(-5).join('\n')}` : '',
  rtsp ? `rtsp_server.py output (last lines):\n${rtsp.log.slice(-5).join('\n')}` : '',
].filter(Boolean).join('\n');

async function note(page, id) {
  return page.$eval(`#${id}`, (el) => ({ text: el.textContent, kind: el.dataset.kind || '' }));
}

/** Waits until the note #@id says something other than "…" progress; returns it. */
async function waitNote(page, id, timeout = STATE_TIMEOUT_MS) {
  await page.waitForFunction((sel) => {
    const el = document.getElementById(sel);
    return el.textContent && !el.textContent.endsWith('…');
  }, id, { timeout, polling: 50 });
  return note(page, id);
}

/**
 * Types the address @host (the fake's by default), @port and @password into the panel (open)
 * and presses Probe; returns what the panel says.
 */
async function probe(page, password, { host = '127.0.0.1', port = fake.port } = {}) {
  await page.fill('#onvif-host', host);
  await page.fill('#onvif-port', String(port));
  await page.fill('#onvif-user', USER);
  await page.fill('#onvif-password', password);
  await page.click('#onvif-probe-btn');
  return waitNote(page, 'onvif-probe-note', 15000);
}

/** Nowhere the page shows, addresses or stores is the password. */
async function assertPasswordHidden(page) {
  const seen = await page.evaluate((secret) => ({
    text: document.body.innerText.includes(secret),
    attributes: [...document.querySelectorAll('*')].some((el) =>
      [...el.attributes].some((a) => a.value.includes(secret))),
    href: location.href.includes(secret),
    storage: JSON.stringify({ ...localStorage }).includes(secret) || JSON.stringify({ ...sessionStorage }).includes(secret),
  }), PASSWORD);
  assert(!seen.text && !seen.attributes && !seen.href && !seen.storage, `the password is in the page: ${JSON.stringify(seen)}`);
}

async function main() {
  rtsp = await startRtspServer(0, { width: 320, height: 240, fps: 25 });
  const secure = `rtsp://127.0.0.1:${rtsp.info.secure_port}/secure`;
  fake = await startFake(['--port', '0', '--username', USER, '--password', PASSWORD,
    '--rtsp', secure, rtsp.url('h264')]);
  // a second device whose stream URIs point outside --allow-hosts
  elsewhere = await startFake(['--port', '0', '--username', USER, '--password', PASSWORD,
    '--fault', 'uri_elsewhere', '--rtsp', secure]);
  server = await startCamstream(['--onvif-discovery', 'off', '--allow-hosts', '127.0.0.1']);
  diag(`camstream on ${server.port}, onvif_fake.py on ${fake.port}, rtsp_server.py on ${rtsp.port} (/secure on ${rtsp.info.secure_port})`);
  await launchBrowser();
  const page = await newPage();
  page.setDefaultTimeout(STATE_TIMEOUT_MS); // a test that fails fails fast: the run stays short
  await page.goto(server.base + '/', { timeout: STATE_TIMEOUT_MS });

  await test('"Find cameras" opens the panel from the keyboard; with discovery off the search says so', async () => {
    await page.focus('#find-cameras');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#onvif', { state: 'visible', timeout: STATE_TIMEOUT_MS });
    assert(await page.getAttribute('#find-cameras', 'aria-expanded') === 'true', 'aria-expanded is not true');
    assert(await page.evaluate(() => document.activeElement.id) === 'onvif-search', 'the focus is not on the search');
    await page.keyboard.press('Enter');
    const said = await waitNote(page, 'onvif-search-note');
    assert(said.text === DISCOVERY_OFF && said.kind === 'error', `the search said ${JSON.stringify(said)}`);
    assert(await page.$$eval('#onvif-devices li', (li) => li.length) === 0, 'devices listed');
    assertNoPageErrors(page, REFUSALS);
  }, logs);

  await test('a wrong password reads "wrong user name or password", and nothing is listed', async () => {
    const said = await probe(page, 'not-the-password');
    assert(said.text === 'wrong user name or password' && said.kind === 'error', `the probe said ${JSON.stringify(said)}`);
    assert(await page.$eval('#onvif-result', (el) => el.hidden), 'a result is shown');
    assertNoPageErrors(page, REFUSALS);
  }, logs);

  await test('the probe of an address typed by hand shows the device and its two profiles', async () => {
    const said = await probe(page, PASSWORD);
    assert(said.kind === '' && said.text === '2 profiles, 2 with a stream.', `the probe said ${JSON.stringify(said)}`);
    const device = await page.textContent('#onvif-device');
    assert(device.includes(fake.xaddr) && device.includes('WS-Security'), `device: ${device}`);
    const profiles = await page.$$eval('.onvif-profile', (items) => items.map((li) => li.querySelector('.onvif-profile-text').innerText.replace(/\s+/g, ' ')));
    diag(profiles.join('\n'));
    assert(profiles.length === 2, `${profiles.length} profiles`);
    assert(profiles[0].includes('MainStream') && profiles[0].includes('H264 · 1280×720 · 25 fps') &&
      profiles[0].includes(`127.0.0.1:${rtsp.info.secure_port}/secure`), `MainStream: ${profiles[0]}`);
    assert(profiles[1].includes('SubStream') && profiles[1].includes('H264 · 640×360 · 15 fps'), `SubStream: ${profiles[1]}`);
    await assertPasswordHidden(page);
  }, logs);

  await test('MainStream added as a tile plays the camera that needs the password, which stays out of the page', async () => {
    const before = await tileCount(page);
    await page.click('.onvif-profile[data-profile="0"] [data-action="tile"]');
    await page.waitForFunction((n) => document.querySelectorAll('#grid > .tile').length > n, before, { timeout: STATE_TIMEOUT_MS });
    await waitTileState(page, before, ['live'], LIVE_TIMEOUT_MS);
    await assertMovingPicture(page, before);
    const title = await page.textContent(`${tileSel(before)} .tile-title`);
    assert(title === `127.0.0.1:${rtsp.info.secure_port}/secure`, `tile title ${title}`);
    await assertPasswordHidden(page);
    assertNoPageErrors(page, REFUSALS);
  }, logs);

  await test('saved as a named stream: GET /api/streams lists it with password "***", and its tile plays', async () => {
    const before = await tileCount(page);
    const item = '.onvif-profile[data-profile="0"]';
    await page.fill(`${item} input`, 'onvif-main');
    await page.click(`${item} [data-action="save"]`);
    await page.waitForFunction((sel) => /^Saved|\(HTTP|camstream/.test(document.querySelector(sel).textContent),
      `${item} > .note`, { timeout: STATE_TIMEOUT_MS, polling: 50 });
    const saved = await page.$eval(`${item} > .note`, (el) => el.textContent);
    assert(saved === 'Saved as onvif-main, and added its tile.', `the panel said "${saved}"`);
    const { streams } = await (await fetch(`${server.base}/api/streams`, { signal: AbortSignal.timeout(5000) })).json();
    const stream = streams.find((s) => s.name === 'onvif-main');
    assert(stream, `not listed: ${JSON.stringify(streams)}`);
    diag(JSON.stringify(stream));
    assert(stream.password === '***', `password shown as ${stream.password}`);
    assert(!JSON.stringify(streams).includes(PASSWORD), 'GET /api/streams shows the password');
    assert(await page.textContent(`${tileSel(before)} .tile-title`) === 'onvif-main', 'the tile is not of the name');
    await waitTileState(page, before, ['live'], LIVE_TIMEOUT_MS);
    await assertMovingPicture(page, before);
    await assertPasswordHidden(page);
    assertNoPageErrors(page, REFUSALS);
  }, logs);

  await test('outside --allow-hosts: a device is refused with camstream\'s message; a profile shows its error and cannot be added', async () => {
    const refused = await probe(page, PASSWORD, { host: '10.255.255.1', port: 80 });
    diag(`10.255.255.1: ${refused.text}`);
    assert(refused.kind === 'error' && /allow-hosts/.test(refused.text) && !/HTTP 403/.test(refused.text),
      `the probe said ${JSON.stringify(refused)}`);
    const said = await probe(page, PASSWORD, { port: elsewhere.port });
    assert(said.text === '2 profiles, 0 with a stream.', `the probe said ${JSON.stringify(said)}`);
    const rows = await page.$$eval('.onvif-profile', (items) => items.map((li) => ({
      error: (li.querySelector('.note[data-kind="error"]') || {}).textContent || '',
      buttons: li.querySelectorAll('button').length,
    })));
    diag(JSON.stringify(rows));
    assert(rows.length === 2 && rows.every((r) => r.error && r.buttons === 0), `rows: ${JSON.stringify(rows)}`);
    assertNoPageErrors(page, REFUSALS);
  }, logs);

  // WS-Discovery's multicast depends on the machine's network: here the answer of a search
  // that found the fake is played to the page, and the probe of its device service URL is real
  await test('a device found by the search is listed; "Use" puts its device service URL in the form, and the probe works', async () => {
    const found = { devices: [{ endpoint: 'urn:uuid:fake', xaddrs: [fake.xaddr], host: '127.0.0.1', port: fake.port,
      types: 'dn:NetworkVideoTransmitter', name: 'FakeCam', hardware: 'FK-1', location: 'lab', scopes: [], from: '127.0.0.1' }],
    interfaces: ['127.0.0.1'], timeout: 2, refused: 0 };
    await page.route('**/api/onvif/discover?timeout=2', (route) =>
      route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(found) }));
    await page.fill('#onvif-host', '');
    await page.fill('#onvif-user', '');
    await page.fill('#onvif-password', '');
    await page.click('#onvif-search');
    const said = await waitNote(page, 'onvif-search-note');
    assert(said.text === 'Found 1 camera.' && said.kind === '', `the search said ${JSON.stringify(said)}`);
    const listed = await page.$eval('#onvif-devices', (ul) => ul.innerText.replace(/\s+/g, ' ').trim());
    assert(listed === `FakeCam FK-1 lab 127.0.0.1:${fake.port} Use`, `listed: ${listed}`);
    await page.focus('#onvif-devices button');
    await page.keyboard.press('Enter');
    assert(await page.inputValue('#onvif-host') === fake.xaddr, 'the host is not the device service URL');
    assert(await page.$eval('#onvif-port', (el) => el.disabled), 'the port is not disabled');
    assert(await page.evaluate(() => document.activeElement.id) === 'onvif-user', 'the focus is not on the user name');
    await page.keyboard.type(USER);
    await page.fill('#onvif-password', PASSWORD);
    await page.press('#onvif-password', 'Enter');
    const probed = await waitNote(page, 'onvif-probe-note', 15000);
    assert(probed.text === '2 profiles, 2 with a stream.', `the probe said ${JSON.stringify(probed)}`);
    await page.unroute('**/api/onvif/discover?timeout=2');
    assertNoPageErrors(page, REFUSALS);
  }, logs);

  await test('Escape closes the panel, gives the focus back to "Find cameras" and forgets the profiles', async () => {
    await page.focus('#onvif-host');
    await page.keyboard.press('Escape');
    assert(await page.$eval('#onvif', (el) => el.hidden), 'the panel is still open');
    assert(await page.evaluate(() => document.activeElement.id) === 'find-cameras', 'the focus is elsewhere');
    assert(await page.$$eval('.onvif-profile', (li) => li.length) === 0, 'profiles left in the page');
    await closePage(page);
  }, logs);
}

await run(main, RUN_TIMEOUT_MS);
