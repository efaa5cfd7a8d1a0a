// webrtc_page: the WebRTC benchmark's browser (bench/webrtc_run.py drives it; docs/PERFORMANCE.md,
// "WebRTC").
//
// Debian's Chromium (/usr/bin/chromium, or $CHROMIUM; never downloaded), headless, through
// playwright-core (bench/peers/node_modules, else tests/browser/node_modules), one profile for
// the whole run. The page itself (bench/webrtc_page.html, .js) is served by the camstream
// measured, from a web root bench/webrtc_run.py makes.
//
//   node bench/webrtc_page.mjs [--timeout S]
//
// Talks in lines. Prints "LAUNCHED" once the browser is up, then reads commands on stdin:
//   OPEN URL  opens the page at URL;        prints "FIRST {json}" at its first read barcode
//   STOP      that page's figures, then closes it (a WebRTC page DELETEs its session first);
//             prints "SAMPLES {json}"
//   QUIT      (or end of input) closes everything and exits.
// Every wait has a deadline (--timeout s for a first picture); a failure prints "ERROR text".

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require_ = (await import('node:module')).createRequire(import.meta.url);
const where = [path.join(here, 'peers', 'node_modules', 'playwright-core'),
  path.join(here, '..', 'tests', 'browser', 'node_modules', 'playwright-core')].find((p) => existsSync(p));
if (!where) {
  process.stdout.write('ERROR playwright-core is not installed: run bench/peers/install.sh\n');
  process.exit(1);
}
const { chromium } = require_(where);

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const TIMEOUT_MS = 1000 * Number(args.timeout || 30);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
  '--autoplay-policy=no-user-gesture-required'];

const say = (word, obj) => process.stdout.write(obj === undefined ? `${word}\n`
  : `${word} ${typeof obj === 'string' ? obj : JSON.stringify(obj)}\n`);

const profile = mkdtempSync(path.join(tmpdir(), 'webrtc-bench-chromium-'));
let context = null;
async function quit(code) {
  try {
    if (context) await Promise.race([context.close(), new Promise((r) => setTimeout(r, 5000))]);
  } catch (e) { /* already gone */ }
  try {
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  } catch (e) {
    process.stderr.write(`webrtc_page: could not remove ${profile}: ${e.message}\n`);
  }
  process.exit(code);
}
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => quit(1));

context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS,
  viewport: { width: 1280, height: 720 },
});
let pageErrors = [];

async function firstPicture(page) {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const b = await page.evaluate(() => {
      const B = window.bench;
      return B && { navStartMs: B.navStartMs, answerMs: B.answerMs, firstFrameMs: B.firstFrameMs,
        firstStampMs: B.firstStampMs, errors: B.errors.slice(0, 10) };
    });
    if (b && b.firstStampMs !== null) return b;
    if (Date.now() > deadline) {
      throw new Error(`no picture with a barcode within ${TIMEOUT_MS / 1000} s; page: ` +
        JSON.stringify(b) + (pageErrors.length ? ` page errors: ${pageErrors.join('; ')}` : ''));
    }
    await new Promise((r) => setTimeout(r, 40));
  }
}

let page = null;
say('LAUNCHED');
const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  const [cmd, arg] = line.trim().split(/\s+/, 2);
  try {
    if (cmd === 'OPEN') {
      pageErrors = [];
      page = await context.newPage();
      page.on('pageerror', (e) => { if (pageErrors.length < 10) pageErrors.push(String(e).slice(0, 200)); });
      page.on('console', (m) => { if (m.type() === 'error' && pageErrors.length < 10) pageErrors.push(m.text().slice(0, 200)); });
      await page.goto(arg, { waitUntil: 'domcontentloaded', timeout: TIMEOUT_MS });
      say('FIRST', await firstPicture(page));
    } else if (cmd === 'STOP') {
      const out = await page.evaluate(async () => {
        const B = window.bench;
        const rtc = B.rtcStats ? await B.rtcStats() : null;
        const q = document.getElementById('v').getVideoPlaybackQuality();
        const res = { samples: B.samples, misreads: B.misreads, frames: B.frames, dropped: B.dropped, hint: B.hint,
          errors: B.errors, rtc, videoDropped: q.droppedVideoFrames, videoFrames: q.totalVideoFrames };
        if (B.session) {
          const r = await fetch(B.session, { method: 'DELETE' }).catch((e) => ({ status: String(e) }));
          res.deleteStatus = r.status;
        }
        return res;
      });
      out.pageErrors = pageErrors;
      await page.close();
      page = null;
      say('SAMPLES', out);
    } else if (cmd === 'QUIT') {
      break;
    }
  } catch (e) {
    say('ERROR', String(e && e.message ? e.message : e).replace(/\n/g, ' ').slice(0, 600));
  }
}
await quit(0);
