// The remote desktop's sound (docs/rdp.md "Sound", docs/api.md "Browser RDP"): where the policy
// allows audio, the broker passes the target's sound on as binary messages (0x87: u32 LE samples
// per second, u8 channels, then signed 16-bit little-endian PCM, channels interleaved), and this
// plays them back to back with the Web Audio API. Nothing goes the other way: the vendor's
// microphone is never asked for.
import { h } from './dom.js';

export const MSG_AUDIO = 0x87;
const HEADER = 6; // type, rate, channels
// Sound that would start more than this after now (a burst after the tab was in the
// background, or the target sending faster than it plays) is dropped, so the speaker does not
// lag the screen.
const MAX_AHEAD_S = 2.0;
// A little slack before the first piece (and after a gap), against network jitter.
const START_DELAY_S = 0.08;

export function audioPlayer() {
  const button = h('button', { type: 'button', class: 'btn btn-small btn-quiet', id: 'rdp-sound', hidden: true,
    title: 'The remote desktop\'s sound plays here; press to mute it' }, 'Mute sound');
  let context = null;
  let volume = null; // the GainNode every piece plays through: muting silences what is scheduled
  let enabled = false;
  let nextTime = 0;
  let muted = false;
  let stopped = false;
  // What arrived, for the page's users and tests: pieces, bytes, a checksum of the samples in
  // order (FNV-1a), pieces played and pieces dropped.
  let pieces = 0;
  let bytes = 0;
  let sum = 0x811c9dc5;
  let dropped = 0;
  let played = 0;
  const show = () => {
    button.dataset.played = String(played);
    button.dataset.pieces = String(pieces);
    button.dataset.bytes = String(bytes);
    button.dataset.sum = String(sum);
    button.dataset.dropped = String(dropped);
  };
  const audioContext = () => {
    if (context === null) {
      try {
        context = new AudioContext();
        volume = context.createGain();
        volume.connect(context.destination);
      } catch {
        context = undefined; // no audio output here: sound is counted, not played
      }
    }
    return context || null;
  };
  const resume = () => {
    if (!enabled || stopped) return;
    // Browsers start an AudioContext suspended until the user interacts with the page (Safari
    // may also interrupt it).
    const ctx = audioContext();
    if (ctx && ctx.state !== 'running' && ctx.state !== 'closed') ctx.resume().catch(() => {});
  };
  button.addEventListener('click', () => {
    muted = !muted;
    button.textContent = muted ? 'Unmute sound' : 'Mute sound';
    button.title = muted ? 'The remote desktop\'s sound is muted; press to hear it' : 'The remote desktop\'s sound plays here; press to mute it';
    if (volume) volume.gain.value = muted ? 0 : 1;
    if (!muted) resume();
  });

  const play = (rate, channels, samples) => {
    const ctx = audioContext();
    if (!ctx || !volume || muted || ctx.state !== 'running') return;
    const frames = samples.byteLength / (2 * channels);
    const buffer = ctx.createBuffer(channels, frames, rate);
    for (let c = 0; c < channels; c += 1) {
      const out = buffer.getChannelData(c);
      for (let i = 0; i < frames; i += 1) out[i] = samples.getInt16((i * channels + c) * 2, true) / 32768;
    }
    const now = ctx.currentTime;
    if (nextTime < now) nextTime = now + START_DELAY_S;
    if (nextTime > now + MAX_AHEAD_S) {
      dropped += 1;
      return;
    }
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(volume);
    source.start(nextTime);
    nextTime += buffer.duration;
    played += 1;
    button.dataset.played = String(played);
  };

  return {
    button,
    /// Shows the button where the session has sound.
    enable(on) {
      enabled = on;
      button.hidden = !on;
      if (on) resume();
    },
    /// A user gesture on the desktop (the first one lets the browser start playing).
    resume,
    /// One binary message; false if it is not sound.
    handle(message) {
      if (message[0] !== MSG_AUDIO) return false;
      if (stopped || !enabled || message.length <= HEADER) return true;
      const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
      const rate = view.getUint32(1, true);
      const channels = message[5];
      const samples = new DataView(message.buffer, message.byteOffset + HEADER, message.byteLength - HEADER);
      if (rate < 8000 || rate > 48000 || (channels !== 1 && channels !== 2) || samples.byteLength % (2 * channels) !== 0) return true;
      pieces += 1;
      bytes += samples.byteLength;
      const raw = message.subarray(HEADER);
      for (let i = 0; i < raw.length; i += 1) sum = Math.imul(sum ^ raw[i], 16777619) >>> 0;
      show();
      play(rate, channels, samples);
      return true;
    },
    stop() {
      stopped = true;
      button.disabled = true;
      if (context) context.close().catch(() => {});
    },
  };
}
