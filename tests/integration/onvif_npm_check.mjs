// onvif_npm_check: reads an ONVIF device with npm onvif 0.8.3 (an implementation independent of
// camstream's and of onvif_fake.py's), for test_onvif's cross-check that the fake speaks real
// ONVIF. Cam.connect() (GetSystemDateAndTime, GetServices, Media2 or Media GetProfiles,
// GetVideoSources ...), then GetDeviceInformation and GetStreamUri of every profile.
//
//   node onvif_npm_check.mjs --host 127.0.0.1 --port N [--username U --password P]
//
// Prints one JSON line: {"clock_offset": device - ours in s, "media2": bool, "device": {...},
// "profiles": [{"token", "name", "encoding", "width", "height", "fps", "uri"}]}.
// Exit 1 with the error on stderr if the library fails; 2 if it does not finish in 20 s.
// The library comes from tests/browser/node_modules (npm install --prefix tests/browser).

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', 'browser', 'package.json'));
const { Cam } = require('onvif');

const { values: opt } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    username: { type: 'string' },
    password: { type: 'string' },
  },
});

const watchdog = setTimeout(() => {
  process.stderr.write('onvif_npm_check: no result within 20 s\n');
  process.exit(2);
}, 20000);

function fail(what, err) {
  process.stderr.write(`onvif_npm_check: ${what}: ${err && err.message ? err.message : err}\n`);
  process.exit(1);
}

// Node-style callbacks to promises, with the Cam as `this`.
function call(cam, method, ...args) {
  return new Promise((resolve, reject) => {
    cam[method](...args, (err, value) => (err ? reject(err) : resolve(value)));
  });
}

const cam = new Cam({
  hostname: opt.host,
  port: Number(opt.port),
  username: opt.username,
  password: opt.password,
  timeout: 5000,
  autoconnect: false,
});

try {
  await call(cam, 'connect');
} catch (err) {
  fail('connect', err);
}

const out = {
  // the library's timeShift: device clock = process.uptime() + timeShift (ms)
  clock_offset: Math.round((process.uptime() * 1000 + cam.timeShift - Date.now()) / 1000),
  media2: !!cam.media2Support,
  device: {},
  profiles: [],
};
try {
  const info = await call(cam, 'getDeviceInformation');
  out.device = {
    manufacturer: String(info.manufacturer), model: String(info.model),
    firmware: String(info.firmwareVersion), serial: String(info.serialNumber),
    hardware: String(info.hardwareId),
  };
  for (const p of cam.profiles || []) {
    const enc = p.videoEncoderConfiguration || {};
    const res = enc.resolution || {};
    const uri = await call(cam, 'getStreamUri', { protocol: 'RTSP', profileToken: p.$.token });
    out.profiles.push({
      token: String(p.$.token), name: String(p.name), encoding: enc.encoding,
      width: res.width, height: res.height,
      fps: enc.rateControl ? enc.rateControl.frameRateLimit : undefined,
      uri: uri.uri,
    });
  }
} catch (err) {
  fail('requests', err);
}
clearTimeout(watchdog);
process.stdout.write(JSON.stringify(out) + '\n');
