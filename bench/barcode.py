"""barcode: the wall-clock stamp that every test-camera frame carries, drawn and read back.

Layout (in units of one cell; a cell is frame_width / 40 pixels, square):
  three rows of 40 cells at the top of the frame, each row:
    cells 0,1    guard: black, white      (gives the decoder its black and white levels)
    cells 2..33  32 data bits, most significant first, black = 1
    cells 34,35  guard: black, white
    cells 36..39 mid grey (padding)
  row 0: high 32 bits of the CLOCK_REALTIME microseconds, row 1: low 32 bits,
  row 2: CRC-32 of those 8 bytes (big-endian), so a misread is rejected, never reported.

Why it survives H.264 and JPEG, even scaled to 320 px wide: a cell is 32 px at 1280 and 48 px at
1920, a multiple of the 16 px macroblock, so every cell is a flat block the encoders reproduce
almost exactly; at 1/4 or 1/8 scale it is still a whole 8x8 DCT block, whose DC term is the
cell's mean. The decoder reads each cell's centre only and compares it with the guards of its own
row.

Pure numpy/PIL, no GStreamer: the camera and the client both import it.
"""

import io
import zlib

CELLS = 40
ROWS = 3
DATA_BITS = 32
FIRST_DATA = 2
BLACK = 16      # limited-range luma, what an H.264 camera sends
WHITE = 235
GREY = 128


def cell_size(width):
    if width % CELLS:
        raise ValueError("frame width must be a multiple of %d" % CELLS)
    return width // CELLS


def strip_height(width):
    """Rows of the frame the barcode occupies."""
    return ROWS * cell_size(width)


def _words(ts_us):
    raw = int(ts_us).to_bytes(8, "big")
    return (ts_us >> 32) & 0xFFFFFFFF, ts_us & 0xFFFFFFFF, zlib.crc32(raw) & 0xFFFFFFFF


def _row_levels(word):
    """Luma of the 40 cells of one row."""
    levels = [BLACK, WHITE]
    levels += [BLACK if (word >> (DATA_BITS - 1 - i)) & 1 else WHITE for i in range(DATA_BITS)]
    levels += [BLACK, WHITE]
    levels += [GREY] * (CELLS - len(levels))
    return levels


def draw(y_plane, ts_us, np):
    """Write the stamp into the top rows of a luma plane (numpy uint8, shape (h, w))."""
    w = y_plane.shape[1]
    c = cell_size(w)
    for r, word in enumerate(_words(ts_us)):
        row = np.repeat(np.asarray(_row_levels(word), dtype=np.uint8), c)
        y_plane[r * c:(r + 1) * c, :] = row


def read_luma(get, width):
    """Decode from a luma accessor: get(x, y) -> mean luma of a small area centred there.
    @width is the picture width in the accessor's pixels. Returns microseconds or None."""
    s = width / CELLS
    words = []
    for r in range(ROWS):
        yc = (r + 0.5) * s
        vals = [get((i + 0.5) * s, yc) for i in range(FIRST_DATA + DATA_BITS + 2)]
        black = (vals[0] + vals[FIRST_DATA + DATA_BITS]) / 2
        white = (vals[1] + vals[FIRST_DATA + DATA_BITS + 1]) / 2
        if white - black < 60:
            return None
        thr = (black + white) / 2
        word = 0
        for v in vals[FIRST_DATA:FIRST_DATA + DATA_BITS]:
            word = (word << 1) | (1 if v < thr else 0)
        words.append(word)
    ts = (words[0] << 32) | words[1]
    if zlib.crc32(ts.to_bytes(8, "big")) & 0xFFFFFFFF != words[2]:
        return None
    return ts


def read_array(y, np=None):
    """Decode from a luma array (numpy, shape (h, w)). Samples the centre half of each cell."""
    h, w = y.shape[:2]
    s = w / CELLS
    half = max(0, int(s / 4))

    def get(x, yy):
        xi, yi = int(x), int(yy)
        if yi >= h:
            return 0
        if half == 0:
            return int(y[yi, xi])
        return float(y[yi - half:yi + half, xi - half:xi + half].mean())
    return read_luma(get, w)


_PIL = None


def _pil():
    global _PIL
    if _PIL is None:
        from PIL import Image, ImageFile
        ImageFile.LOAD_TRUNCATED_IMAGES = True   # we feed only the first part of a JPEG
        _PIL = Image
    return _PIL


def read_jpeg(data):
    """Decode the stamp of a JPEG (bytes, possibly only its first part: the decoder stops where
    the data does, the stamp is in the first rows). Uses libjpeg's DCT scaling (PIL draft mode)
    so only a small picture is reconstructed. Returns microseconds or None."""
    Image = _pil()
    try:
        im = Image.open(io.BytesIO(data))
        w, h = im.size
        # Largest reduction that keeps a cell >= 4 px (a cell is w/40 px).
        want = min(w, CELLS * 4)
        im.draft("L", (want, max(1, h * want // w)))
        im = im.convert("L") if im.mode != "L" else im
        im.load()
    except (OSError, ValueError, SyntaxError):
        return None
    w, h = im.size
    px = im.load()
    s = w / CELLS

    def get(x, yy):
        xi, yi = int(x), int(yy)
        if yi >= h or xi >= w:
            return 0
        if s >= 4:
            return (px[xi - 1, yi - 1] + px[xi, yi - 1] + px[xi - 1, yi] + px[xi, yi]) / 4
        return px[xi, yi]
    return read_luma(get, w)
