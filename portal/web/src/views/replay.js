// #/replay/<session_id>: the verification verdict, then the recording in asciinema-player, or
// for an RDP session (ids "rdp-…", broker/rdp) in the canvas player of rdp_player.js.
import { get, seg } from '../api.js';
import { h, replace } from '../dom.js';
import { fmtBytes } from '../format.js';
import { card, placeholderRow, showError, table } from '../ui.js';
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
    card('Replay', { id: 'replay' }, playerBox),
    filesCard(context, id)));

  get(`/api/v1/recordings/${seg(id)}/verify`)
    .then((result) => { if (context.alive) replace(verdictBox, verdictView(result)); })
    .catch((error) => {
      if (!context.alive) return;
      replace(verdictBox, h('span', { class: 'verdict verdict-bad' }, `Verification failed: ${error.message}`));
    });

  if (desktop) mountDesktopPlayer(context, desktopUrl, playerBox);
  else mountPlayer(context, castUrl, playerBox);
}

// Operation names as the recording has them (docs/recording-format.md, file_transfer).
const OPERATIONS = {
  upload: 'upload', download: 'download', remove: 'remove', rename: 'rename',
  make_directory: 'new directory', set_attributes: 'attributes', link: 'link', print: 'printed',
};
// Operations that moved bytes (their size and SHA-256 mean something).
const MOVED = ['upload', 'download', 'print'];

/// The files moved in this session (sftp, scp, a desktop's drive and printer) as recorded: when, what,
/// which path, how many bytes and their SHA-256 (to compare with the file the auditor holds).
function filesCard(context, id) {
  const { el, body } = table(['At', 'Operation', 'Path', ['Bytes', 'num'], 'SHA-256', 'Detail'],
    { id: 'replay-files-table', caption: 'Files moved in this session' });
  body.append(placeholderRow(6, 'Reading the recording…'));
  get(`/api/v1/recordings/${seg(id)}/export?format=files`)
    .then((doc) => {
      if (!context.alive) return;
      const files = doc?.files ?? [];
      body.replaceChildren(...(files.length === 0
        ? [placeholderRow(6, 'No files were moved in this session.')]
        : files.map((f) => h('tr', {},
          h('td', { class: 'mono' }, `${(f.t_us / 1e6).toFixed(1)} s`),
          h('td', {}, OPERATIONS[f.operation] ?? f.operation),
          h('td', { class: 'mono' }, f.path),
          h('td', { class: 'num' }, MOVED.includes(f.operation) ? fmtBytes(f.size) : ''),
          h('td', { class: 'mono hash' }, f.sha256 || '—'),
          h('td', {}, f.detail)))));
    })
    .catch((error) => {
      if (context.alive) body.replaceChildren(placeholderRow(6, `The files could not be read: ${error.message}`));
    });
  return card('Files', {
    id: 'replay-files',
    description: 'Uploads and downloads (sftp, scp, a desktop session\'s drive), documents the desktop printed, with the SHA-256 of the bytes that moved, and changes to names, as the broker saw them pass.',
  }, el);
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
