// hls_barcode: bench/barcode.py's reader in JavaScript, for the HLS benchmark's page
// (bench/hls_page.html). The test camera (bench/camera.py) draws, in the top 3 x (width / 40)
// rows of every frame, three rows of 40 cells: guard black, white; 32 data bits (black = 1);
// guard black, white; grey padding. Row 0: high 32 bits of the wall clock in microseconds when
// the camera drew the frame, row 1: low 32 bits, row 2: CRC-32 of those 8 bytes (big-endian),
// so a misread is rejected, never reported.
//
// readStamp(rgba, width, height): rgba is an ImageData's data (the top rows of the picture at
// @width pixels); returns the stamp in microseconds (a Number: exact below 2^53) or null.
// Also loads in node (module.exports) for checking it against barcode.py's drawing.

(function (root) {
  'use strict';
  const CELLS = 40;
  const ROWS = 3;
  const DATA_BITS = 32;
  const FIRST_DATA = 2;

  let table = null;
  function crc32(bytes) {
    if (!table) {
      table = new Uint32Array(256);
      for (let n = 0; n < 256; n++) {
        let c = n;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1;
        table[n] = c >>> 0;
      }
    }
    let c = 0xFFFFFFFF;
    for (const b of bytes) c = table[(c ^ b) & 0xFF] ^ (c >>> 8);
    return (c ^ 0xFFFFFFFF) >>> 0;
  }

  /** Mean luma (BT.601 weights on the RGB the browser gives) of the square of half-size
   *  @half centred on (x, y). */
  function lumaAt(rgba, width, height, x, y, half) {
    const xi = Math.floor(x);
    const yi = Math.floor(y);
    if (yi >= height || xi >= width) return 0;
    let sum = 0;
    let n = 0;
    const y0 = Math.max(0, yi - half);
    const y1 = Math.min(height, yi + Math.max(half, 1));
    const x0 = Math.max(0, xi - half);
    const x1 = Math.min(width, xi + Math.max(half, 1));
    for (let yy = y0; yy < y1; yy++) {
      let o = (yy * width + x0) * 4;
      for (let xx = x0; xx < x1; xx++, o += 4) {
        sum += 0.299 * rgba[o] + 0.587 * rgba[o + 1] + 0.114 * rgba[o + 2];
        n++;
      }
    }
    return n ? sum / n : 0;
  }

  function readStamp(rgba, width, height) {
    const s = width / CELLS;
    const half = Math.max(0, Math.floor(s / 4));   // the centre half of each cell
    const words = [];
    for (let r = 0; r < ROWS; r++) {
      const yc = (r + 0.5) * s;
      const vals = [];
      for (let i = 0; i < FIRST_DATA + DATA_BITS + 2; i++) {
        vals.push(lumaAt(rgba, width, height, (i + 0.5) * s, yc, half));
      }
      const black = (vals[0] + vals[FIRST_DATA + DATA_BITS]) / 2;
      const white = (vals[1] + vals[FIRST_DATA + DATA_BITS + 1]) / 2;
      if (white - black < 60) return null;
      const thr = (black + white) / 2;
      let word = 0;
      for (let i = FIRST_DATA; i < FIRST_DATA + DATA_BITS; i++) {
        word = ((word << 1) | (vals[i] < thr ? 1 : 0)) >>> 0;
      }
      words.push(word);
    }
    const bytes = new Uint8Array(8);
    for (let i = 0; i < 4; i++) {
      bytes[i] = (words[0] >>> (24 - 8 * i)) & 0xFF;
      bytes[4 + i] = (words[1] >>> (24 - 8 * i)) & 0xFF;
    }
    if (crc32(bytes) !== words[2]) return null;
    return words[0] * 4294967296 + words[1];
  }

  /** Rows of a @width-pixel picture that hold the stamp. */
  function stripHeight(width) {
    return ROWS * Math.ceil(width / CELLS);
  }

  const api = { readStamp, stripHeight, crc32 };
  if (typeof module !== 'undefined' && module.exports) module.exports = api;
  else root.hlsBarcode = api;
})(typeof self !== 'undefined' ? self : this);
