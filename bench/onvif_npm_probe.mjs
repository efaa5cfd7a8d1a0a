// onvif_npm_probe: npm onvif 0.8.3 reading one device @runs times in one node process, as the
// ONVIF benchmark's peer (bench/onvif_run.py): each run is Cam.connect() (clock, services,
// profiles, video sources...) then GetStreamUri of every profile. Prints one JSON line:
// {"ms": [each run's milliseconds], "uris": N of the last run}.
//
//   node bench/onvif_npm_probe.mjs --port N --username U --password P --runs R

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', 'tests', 'browser', 'package.json'));
const { Cam } = require('onvif');

const { values: opt } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    username: { type: 'string' },
    password: { type: 'string' },
    runs: { type: 'string', default: '20' },
  },
});

function call(cam, method, ...args) {
  return new Promise((resolve, reject) => {
    cam[method](...args, (err, value) => (err ? reject(err) : resolve(value)));
  });
}

const ms = [];
let uris = 0;
for (let i = 0; i < Number(opt.runs); i++) {
  const t0 = performance.now();
  const cam = new Cam({ hostname: opt.host, port: Number(opt.port), username: opt.username,
    password: opt.password, timeout: 5000, autoconnect: false });
  await call(cam, 'connect');
  uris = 0;
  for (const p of cam.profiles || []) {
    await call(cam, 'getStreamUri', { protocol: 'RTSP', profileToken: p.$.token });
    uris++;
  }
  ms.push(performance.now() - t0);
}
process.stdout.write(JSON.stringify({ ms, uris }) + '\n');
