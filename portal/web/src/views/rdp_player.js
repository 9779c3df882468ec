// The replay of a recorded RDP session: GET /recordings/{id}/export?format=desktop (the
// "desktop" export, docs/recording-format.md) parsed here and drawn on a canvas. Tiles are
// drawn in time order; a keyframe's tiles cover the whole desktop, so a seek draws from the last
// keyframe at or before the chosen time and fast-forwards from there without delay.
import { h, replace } from '../dom.js';

const MAGIC = 'CDSK1\n';
const RECORD_HEADER = 13; // u64 time_us, u8 type, u32 length
const TYPE_SIZE = 1;
const TYPE_TILE = 2;
const TYPE_FRAME_END = 3;
const TYPE_MARKER = 4;
const TILE_HEADER = 9; // u16 x, y, width, height, u8 format
const FORMATS = { 1: 'image/png', 2: 'image/jpeg' };
const SPEEDS = [1, 2, 4];

/// Parses a desktop export. Returns { records, keyframes, markers, width, height, durationUs }:
/// records in stream order ({t, type, ...}); keyframes as { start, end, t }: the index of the
/// keyframe's first tile (just after the previous frame end), of its frame end, and its time.
/// Throws on a wrong magic; a record cut off at the end (a truncated recording) is dropped.
export function parseDesktop(buffer) {
  const bytes = new Uint8Array(buffer);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = new TextDecoder().decode(bytes.subarray(0, MAGIC.length));
  if (magic !== MAGIC) throw new Error('not a desktop recording');
  const text = new TextDecoder('utf-8');
  const records = [];
  const keyframes = [];
  const markers = [];
  let width = 0;
  let height = 0;
  let frameStart = 0; // index of the first record after the previous frame end
  let pos = MAGIC.length;
  while (pos + RECORD_HEADER <= bytes.length) {
    const t = view.getUint32(pos, true) + view.getUint32(pos + 4, true) * 2 ** 32;
    const type = bytes[pos + 8];
    const length = view.getUint32(pos + 9, true);
    const body = pos + RECORD_HEADER;
    if (body + length > bytes.length) break;
    pos = body + length;
    if (type === TYPE_SIZE && length === 4) {
      const w = view.getUint16(body, true);
      const hgt = view.getUint16(body + 2, true);
      if (!width) {
        width = w;
        height = hgt;
      }
      records.push({ t, type, width: w, height: hgt });
    } else if (type === TYPE_TILE && length > TILE_HEADER && FORMATS[bytes[body + 8]]) {
      records.push({
        t, type,
        x: view.getUint16(body, true), y: view.getUint16(body + 2, true),
        width: view.getUint16(body + 4, true), height: view.getUint16(body + 6, true),
        mime: FORMATS[bytes[body + 8]],
        image: bytes.subarray(body + TILE_HEADER, body + length),
      });
    } else if (type === TYPE_FRAME_END && length === 5) {
      const keyframe = bytes[body + 4] === 1;
      if (keyframe) keyframes.push({ start: frameStart, end: records.length, t });
      records.push({ t, type, sequence: view.getUint32(body, true), keyframe });
      frameStart = records.length;
    } else if (type === TYPE_MARKER) {
      const marker = { t, type, text: text.decode(bytes.subarray(body, body + length)) };
      records.push(marker);
      markers.push(marker);
    }
    // Unknown types are skipped: a later version may add some.
  }
  const durationUs = records.length ? records[records.length - 1].t : 0;
  return { records, keyframes, markers, width, height, durationUs };
}

/// "0:07", "12:40", "1:02:03" for a position in microseconds.
function clock(us) {
  const s = Math.max(0, Math.floor(us / 1e6));
  const two = (n) => String(n).padStart(2, '0');
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  return hours ? `${hours}:${two(minutes)}:${two(s % 60)}` : `${minutes}:${two(s % 60)}`;
}

/// Fetches the desktop export at `url` and mounts the player into `box`.
export async function mountDesktopPlayer(context, url, box) {
  replace(box, h('p', { class: 'sub' }, 'Loading the recording…'));
  let desktop;
  let verdict;
  try {
    const response = await fetch(url, { credentials: 'same-origin', cache: 'no-store' });
    if (!response.ok) {
      let message = `${response.status} ${response.statusText || 'error'}`;
      try {
        const data = await response.json();
        if (typeof data?.message === 'string' && data.message) message = data.message;
      } catch {
        // Not JSON: keep the status line.
      }
      throw new Error(message);
    }
    verdict = response.headers.get('X-Conduit-Verdict') ?? '';
    desktop = parseDesktop(await response.arrayBuffer());
  } catch (error) {
    if (context.alive) {
      replace(box, h('p', { class: 'notice notice-warn', id: 'replay-error' },
        `The recording could not be played: ${error.message}`));
    }
    return;
  }
  if (!context.alive) return;
  const player = new DesktopPlayer(context, desktop);
  replace(box,
    verdict && verdict !== 'intact'
      ? h('p', { class: 'notice notice-warn', id: 'replay-partial' },
        `The recording is ${verdict}: playing the part that could be read.`)
      : null,
    player.element);
}

class DesktopPlayer {
  constructor(context, desktop) {
    this.context = context;
    this.desktop = desktop;
    this.positionUs = 0;
    this.next = 0; // index of the first record not yet applied
    this.speed = 1;
    this.playing = false;
    this.frame = 0; // requestAnimationFrame handle
    this.lastTick = 0;
    this.epoch = 0; // bumped by every seek: queued draws of an older epoch are dropped
    this.drawing = Promise.resolve();
    this.framesDrawn = 0;
    this.badTiles = 0;
    this.scrubbing = false; // the timeline is being dragged: playback does not move it

    this.canvas = h('canvas', {
      id: 'replay-desktop', class: 'rdp-canvas',
      width: desktop.width || 640, height: desktop.height || 480,
      'aria-label': 'Recorded remote desktop', dataset: { framesDrawn: '0' },
    });
    this.ctx = this.canvas.getContext('2d');
    this.playButton = h('button', { type: 'button', class: 'btn btn-small', id: 'replay-play',
      'aria-pressed': 'false', onclick: () => (this.playing ? this.pause() : this.play()) }, 'Play');
    this.speedSelect = h('select', { id: 'replay-speed', 'aria-label': 'Playback speed',
      onchange: () => { this.speed = Number(this.speedSelect.value) || 1; } },
    SPEEDS.map((s) => h('option', { value: String(s), selected: s === 1 }, `${s}×`)));
    const durationMs = Math.ceil(desktop.durationUs / 1000);
    this.timeline = h('input', { type: 'range', id: 'replay-timeline', min: '0', max: String(durationMs),
      step: '1', value: '0', 'aria-label': 'Position in the recording',
      oninput: () => {
        this.scrubbing = true;
        this.showTime(Number(this.timeline.value) * 1000);
      },
      onchange: () => {
        this.scrubbing = false;
        this.seek(Number(this.timeline.value) * 1000);
      } });
    this.timeLabel = h('span', { id: 'replay-time', class: 'mono' });
    this.markerList = h('ul', { id: 'replay-markers', class: 'replay-markers' },
      desktop.markers.map((m) => h('li', {},
        h('a', { href: '#', onclick: (event) => { event.preventDefault(); this.seek(m.t); } },
          h('span', { class: 'mono' }, clock(m.t))), ' ', m.text)));
    this.element = h('div', { class: 'page-stack' },
      h('div', { class: 'rdp-panel' }, this.canvas),
      h('div', { class: 'replay-controls' }, this.playButton, ' ', this.speedSelect, ' ',
        this.timeline, ' ', this.timeLabel),
      desktop.markers.length ? h('h3', {}, 'Notices') : null,
      this.markerList);

    context.onCleanup(() => {
      this.pause();
      this.epoch += 1;
    });
    // Show the first whole picture (the first keyframe) rather than a black canvas.
    this.seek(desktop.keyframes.length ? desktop.keyframes[0].t : 0);
  }

  play() {
    if (this.playing || !this.context.alive) return;
    if (this.positionUs >= this.desktop.durationUs) this.seek(0);
    this.playing = true;
    this.playButton.textContent = 'Pause';
    this.playButton.setAttribute('aria-pressed', 'true');
    this.lastTick = performance.now();
    this.frame = requestAnimationFrame((now) => this.tick(now));
  }

  pause() {
    this.playing = false;
    cancelAnimationFrame(this.frame);
    this.playButton.textContent = 'Play';
    this.playButton.setAttribute('aria-pressed', 'false');
  }

  tick(now) {
    if (!this.playing || !this.context.alive) return;
    this.positionUs = Math.min(this.desktop.durationUs,
      this.positionUs + (now - this.lastTick) * 1000 * this.speed);
    this.lastTick = now;
    this.applyUntil(this.positionUs);
    this.showTime(this.positionUs);
    if (this.positionUs >= this.desktop.durationUs) {
      this.pause();
      return;
    }
    this.frame = requestAnimationFrame((t) => this.tick(t));
  }

  /// Jumps to `us`: from the last keyframe whose frame end is at or before it (from the start
  /// if none), applies every record up to `us` without waiting.
  seek(us) {
    const { records, keyframes } = this.desktop;
    const target = Math.max(0, Math.min(us, this.desktop.durationUs));
    this.epoch += 1;
    this.drawing = Promise.resolve();
    let keyframe = null;
    for (const k of keyframes) {
      if (k.t > target) break;
      keyframe = k;
    }
    const start = keyframe ? keyframe.start : 0;
    // The desktop size in force at the keyframe: the last size record before it.
    for (let i = start - 1; i >= 0; i -= 1) {
      if (records[i].type === TYPE_SIZE) {
        this.apply(records[i]);
        break;
      }
    }
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.next = start;
    this.positionUs = target;
    this.applyUntil(target);
    this.showTime(target);
  }

  applyUntil(us) {
    const { records } = this.desktop;
    while (this.next < records.length && records[this.next].t <= us) {
      this.apply(records[this.next]);
      this.next += 1;
    }
  }

  apply(record) {
    const epoch = this.epoch;
    if (record.type === TYPE_SIZE) {
      if (record.width && record.height &&
          (this.canvas.width !== record.width || this.canvas.height !== record.height)) {
        this.canvas.width = record.width; // also clears it
        this.canvas.height = record.height;
      }
    } else if (record.type === TYPE_TILE) {
      // Decoding starts now, in parallel; drawing keeps the recorded order.
      const bitmap = createImageBitmap(new Blob([record.image], { type: record.mime }));
      this.drawing = this.drawing.then(async () => {
        let image = null;
        try {
          image = await bitmap;
        } catch {
          // One undecodable tile leaves a stale patch until the next keyframe.
          this.badTiles += 1;
          return;
        }
        if (epoch === this.epoch && this.context.alive) {
          this.ctx.drawImage(image, record.x, record.y, record.width, record.height);
        }
        image.close();
      });
    } else if (record.type === TYPE_FRAME_END) {
      this.drawing = this.drawing.then(() => {
        if (epoch !== this.epoch) return;
        this.framesDrawn += 1;
        this.canvas.dataset.framesDrawn = String(this.framesDrawn);
      });
    }
  }

  showTime(us) {
    if (!this.scrubbing) this.timeline.value = String(Math.round(us / 1000));
    this.timeLabel.textContent = `${clock(us)} / ${clock(this.desktop.durationUs)}`;
  }
}
