// Draws a remote desktop stream on a canvas: the binary messages of docs/api.md "Browser RDP"
// (0x82 tile: u16 LE x, y, width, height, u8 format, image; 0x83 frame end: u32 LE sequence,
// u8 keyframe). Tiles decode asynchronously; one promise chain keeps drawing in arrival order,
// and onFrame runs once every tile of a frame is on the canvas. Shared by the vendor's RDP page
// and engineers' live view.
export const MSG_TILE = 0x82;
export const MSG_FRAME_END = 0x83;
const TILE_HEADER = 10;
const FORMATS = { 1: 'image/png', 2: 'image/jpeg' };

/// `alive()` false: the page is gone, stop drawing. `onFrame(seq, keyframe)` after each frame.
/// The canvas's data-frames counts frames drawn (tests poll it); data-bad-tiles counts tiles that
/// did not decode (each leaves a stale patch until the next keyframe; the session goes on).
export function desktopPainter(canvas, { alive = () => true, onFrame = () => {} } = {}) {
  const ctx = canvas.getContext('2d');
  let drawing = Promise.resolve();
  let frames = 0;
  let badTiles = 0;
  const bad = () => {
    badTiles += 1;
    canvas.dataset.badTiles = String(badTiles);
  };
  const tile = (bytes) => {
    const type = FORMATS[bytes[9]];
    if (bytes.length < TILE_HEADER || !type) return bad();
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const x = view.getUint16(1, true);
    const y = view.getUint16(3, true);
    const blob = new Blob([bytes.subarray(TILE_HEADER)], { type });
    drawing = drawing.then(async () => {
      if (!alive()) return;
      const bitmap = await createImageBitmap(blob);
      ctx.drawImage(bitmap, x, y);
      bitmap.close();
    }).catch(bad);
  };
  const frameEnd = (bytes) => {
    if (bytes.length < 6) return;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const seq = view.getUint32(1, true);
    const keyframe = bytes[5] === 1;
    drawing = drawing.then(() => {
      if (!alive()) return;
      frames += 1;
      canvas.dataset.frames = String(frames);
      onFrame(seq, keyframe);
    });
  };
  return {
    /// One binary message; false if it is not a desktop message.
    handle(bytes) {
      if (bytes[0] === MSG_TILE) tile(bytes);
      else if (bytes[0] === MSG_FRAME_END) frameEnd(bytes);
      else return false;
      return true;
    },
  };
}
