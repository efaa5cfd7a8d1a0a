// node-media-server 4.x as a relay publisher, for test_rtmp_ingest.py: it takes a publish on
// rtmp://127.0.0.1:RTMP_PORT/live/src and, once that stream is live, pushes it with its own
// RTMP client (a relay task in "push" mode, NMS's RtmpClientSession) to PUSH_URL.
//
//   node nms_push.js NMS_MODULE_DIR RTMP_PORT HTTP_PORT DATA_DIR PUSH_URL
//
// Prints "READY" once listening, "PUSHING" when the relay task is added; runs until SIGTERM.
"use strict";

const [moduleDir, rtmpPort, httpPort, dataDir, pushUrl] = process.argv.slice(2);
const NodeMediaServer = require(moduleDir);

const nms = new NodeMediaServer({
  bind: "127.0.0.1",
  rtmp: { port: Number(rtmpPort), chunk_size: 60000, gop_cache: true, ping: 30,
          ping_timeout: 60 },
  http: { port: Number(httpPort), allow_origin: "*" },
  store: { path: dataDir },
});

let pushing = false;
nms.on("postPublish", (session) => {
  if (pushing || session.streamPath !== "/live/src") {
    return;
  }
  pushing = true;
  nms.relayServer.addTask({ url: pushUrl, streamPath: "/live/src", mode: "push",
                            reconnect: false });
  console.log("PUSHING");
});

nms.run().then(() => console.log("READY"));
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => process.exit(0));
}
