// #/replay/<session_id>: the verification verdict, then the recording in asciinema-player, or
// for an RDP session (ids "rdp-…", broker/rdp) in the canvas player of rdp_player.js.
import { get, seg } from '../api.js';
import { h, replace } from '../dom.js';
import { card, showError } from '../ui.js';
import { verdictView } from './auditor.js';
import { mountDesktopPlayer } from './rdp_player.js';

// The smallest valid WebAssembly module: "\0asm", version 1.
const EMPTY_WASM = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

/// asciinema-player 3 renders with a WebAssembly terminal emulator. A Content-Security-Policy
/// without 'wasm-unsafe-eval' in script-src refuses to compile it; find out before mounting so the
/// page can say why instead of showing a broken player.
async function webAssemblyAllowed() {
  try {
    await WebAssembly.compile(EMPTY_WASM);
    return true;
  } catch {
    return false;
  }
}

export function renderReplay(root, context) {
  const id = context.arg;
  if (!id) {
    root.append(card('Replay', {}, h('p', {}, 'No session chosen. '), h('a', { href: '#/auditor' }, 'Back to sessions')));
    return;
  }
  const castUrl = `/api/v1/recordings/${seg(id)}/cast`;
  const desktop = id.startsWith('rdp-');
  const desktopUrl = `/api/v1/recordings/${seg(id)}/export?format=desktop`;
  const verdictBox = h('div', { id: 'replay-verdict', class: 'replay-verdict', role: 'status' },
    h('span', { class: 'sub' }, 'Verifying the recording…'));
  const playerBox = h('div', { id: 'replay-player', class: 'replay-player' });
  root.append(h('div', { class: 'page-stack' },
    h('div', { class: 'replay-head' },
      h('a', { href: '#/auditor', class: 'btn btn-small btn-quiet' }, '← Sessions'),
      h('h1', { class: 'replay-title' }, 'Session ', h('span', { class: 'mono' }, id)),
      desktop
        ? h('a', { href: desktopUrl, download: `${id}.cdsk`, class: 'btn btn-small', 'data-action': 'download' }, 'Download .cdsk')
        : h('a', { href: castUrl, download: `${id}.cast`, class: 'btn btn-small', 'data-action': 'download' }, 'Download .cast')),
    card('Verification', { id: 'replay-verification' }, verdictBox),
    card('Replay', { id: 'replay' }, playerBox)));

  get(`/api/v1/recordings/${seg(id)}/verify`)
    .then((result) => { if (context.alive) replace(verdictBox, verdictView(result)); })
    .catch((error) => {
      if (!context.alive) return;
      replace(verdictBox, h('span', { class: 'verdict verdict-bad' }, `Verification failed: ${error.message}`));
    });

  if (desktop) mountDesktopPlayer(context, desktopUrl, playerBox);
  else mountPlayer(context, castUrl, playerBox);
}

async function mountPlayer(context, castUrl, box) {
  replace(box, h('p', { class: 'sub' }, 'Loading the player…'));
  if (!(await webAssemblyAllowed())) {
    replace(box, h('p', { class: 'notice notice-warn' },
      'This browser refused to start the replay engine (WebAssembly is blocked by the page’s security policy). ',
      'Download the .cast file and play it with “asciinema play”.'));
    return;
  }
  try {
    const [AsciinemaPlayer] = await Promise.all([
      import('asciinema-player'),
      import('asciinema-player/dist/bundle/asciinema-player.css'),
    ]);
    if (!context.alive) return;
    box.replaceChildren();
    const player = AsciinemaPlayer.create(castUrl, box, { fit: 'width' });
    context.onCleanup(() => player.dispose?.());
  } catch (error) {
    if (context.alive) showError(`The player could not start: ${error.message}`);
  }
}
