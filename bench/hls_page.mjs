// hls_page: the HLS benchmark's browser (bench/hls_run.py drives it; docs/PERFORMANCE.md, "HLS").
//
// Debian's Chromium (/usr/bin/chromium, or $CHROMIUM; never downloaded), headless, through
// playwright-core, with a fresh profile; the page (bench/hls_page.html + hls_page.js, hls.js
// from bench/peers/node_modules) served by this script on 127.0.0.1 (a real server: Chromium
// lets a page reach 127.0.0.1 only from its own address space).
//
//   node bench/hls_page.mjs --src URL --ll 1|0 [--join-play S] [--debug 1]
//   (--debug 1: hls.js' log on stderr)
//
// Talks in lines. Prints "LAUNCHED" once the browser is up, then reads commands on stdin:
//   GO    open the page (plays --src);      prints "FIRST {json}" at its first read barcode
//   STOP  the first page's figures so far;  prints "SAMPLES {json}"
//   JOIN  open a second page beside it;     prints "JOIN {json}" at its first read barcode
//         and --join-play s later (with the frames it presented then), then closes it
//   QUIT  (or end of input) closes everything and exits.
// Every wait has a deadline (--timeout s for a first picture); a failure prints "ERROR text".

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require_ = (await import('node:module')).createRequire(import.meta.url);
const { chromium } = require_(path.join(here, 'peers', 'node_modules', 'playwright-core'));

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const SRC = args.src;
const LL = args.ll === '1' ? '1' : '0';
const TIMEOUT_MS = 1000 * Number(args.timeout || 30);
const JOIN_PLAY_MS = 1000 * Number(args['join-play'] || 0);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
  '--autoplay-policy=no-user-gesture-required'];

const FILES = {
  '/': [path.join(here, 'hls_page.html'), 'text/html'],
  '/hls_page.js': [path.join(here, 'hls_page.js'), 'application/javascript'],
  '/hls_barcode.js': [path.join(here, 'hls_barcode.js'), 'application/javascript'],
  '/hls.js': [path.join(here, 'peers', 'node_modules', 'hls.js', 'dist', 'hls.min.js'),
    'application/javascript'],
};

const say = (word, obj) => process.stdout.write(obj === undefined ? `${word}\n`
  : `${word} ${typeof obj === 'string' ? obj : JSON.stringify(obj)}\n`);

const http = createServer((req, res) => {
  const f = FILES[req.url.split('?')[0]];
  if (!f) {
    res.writeHead(404);
    res.end();
    return;
  }
  res.writeHead(200, { 'Content-Type': f[1], 'Cache-Control': 'no-store' });
  res.end(readFileSync(f[0]));
});
await new Promise((resolve, reject) => {
  http.once('error', reject);
  http.listen(0, '127.0.0.1', resolve);
});
const DEBUG = args.debug === '1';
const pageUrl = `http://127.0.0.1:${http.address().port}/?ll=${LL}&debug=${DEBUG ? 1 : 0}` +
  `&src=${encodeURIComponent(SRC)}`;

const profile = mkdtempSync(path.join(tmpdir(), 'hls-bench-chromium-'));
let context = null;
async function quit(code) {
  try {
    if (context) await Promise.race([context.close(), new Promise((r) => setTimeout(r, 5000))]);
  } catch (e) { /* already gone */ }
  http.closeAllConnections();
  http.close();
  try {   // Chromium may still be writing its profile as it exits: retried
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  } catch (e) {
    process.stderr.write(`hls_page: could not remove ${profile}: ${e.message}\n`);
  }
  process.exit(code);
}
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => quit(1));

context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS,
  viewport: { width: 1280, height: 720 },
});
const pageErrors = [];

async function openPage() {
  const page = await context.newPage();
  page.on('pageerror', (e) => { if (pageErrors.length < 10) pageErrors.push(String(e).slice(0, 200)); });
  if (DEBUG) page.on('console', (m) => process.stderr.write(`${Date.now()} ${m.text()}\n`));
  await page.goto(pageUrl, { waitUntil: 'domcontentloaded', timeout: TIMEOUT_MS });
  return page;
}

/** Waits for the page's first read barcode; resolves with its timing figures. */
async function firstPicture(page) {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const b = await page.evaluate(() => {
      const B = window.bench;
      return B && {
        navStartMs: B.navStartMs, loadSourceMs: B.loadSourceMs, manifestMs: B.manifestMs,
        firstFragMs: B.firstFragMs, firstFrameMs: B.firstFrameMs, firstStampMs: B.firstStampMs,
        errors: B.errors.slice(0, 10),
      };
    });
    if (b && b.firstStampMs !== null) return b;
    if (Date.now() > deadline) {
      throw new Error(`no picture with a barcode within ${TIMEOUT_MS / 1000} s; page: ` +
        JSON.stringify(b) + (pageErrors.length ? ` page errors: ${pageErrors.join('; ')}` : ''));
    }
    await new Promise((r) => setTimeout(r, 40));
  }
}

let first = null;
say('LAUNCHED');
const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  const cmd = line.trim();
  try {
    if (cmd === 'GO') {
      first = await openPage();
      say('FIRST', await firstPicture(first));
    } else if (cmd === 'STOP') {
      const out = await first.evaluate(() => {
        const B = window.bench;
        return { samples: B.samples, misreads: B.misreads, frames: B.frames, waiting: B.waiting,
          waitingAt: B.waitingAt, playingAt: B.playingAt, pdt: B.pdt,
          partsLoaded: B.partsLoaded, fragsLoaded: B.fragsLoaded, level: B.level,
          errors: B.errors, stats: B.stats() };
      });
      out.pageErrors = pageErrors;
      say('SAMPLES', out);
    } else if (cmd === 'JOIN') {
      const p = await openPage();
      const b = await firstPicture(p);
      await new Promise((r) => setTimeout(r, JOIN_PLAY_MS));
      Object.assign(b, await p.evaluate(() => {
        const B = window.bench;
        return { samples: B.samples, waitingAt: B.waitingAt, errors: B.errors.slice(0, 10) };
      }));
      await p.close();
      say('JOIN', b);
    } else if (cmd === 'QUIT') {
      break;
    }
  } catch (e) {
    say('ERROR', String(e && e.message ? e.message : e).replace(/\n/g, ' ').slice(0, 600));
  }
}
await quit(0);
