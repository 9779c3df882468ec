// #/rdp/<asset>: the remote desktop in the browser (docs/api.md "Browser RDP", docs/rdp.md). The broker
// runs the RDP client in a worker process and sends changed screen tiles; this page draws them on
// a canvas in arrival order, acknowledges each whole frame (the server sends at most two frames
// ahead of the last ack) and sends keys and pointer events back as RDP scancodes and pointer
// flags. As with the terminal, a closed session stays closed: no automatic reconnect.
// Where the policy allows the clipboard, a panel carries text each way it allows: what is copied
// on the remote desktop appears in it (its Copy button puts it on the local clipboard: never
// without the vendor's click, so a hostile desktop cannot plant text there); text put in it
// and sent becomes the remote clipboard, to paste there. Where it allows a drive, a panel
// (rdp_drive.js) moves files to and from the drive the remote desktop sees; where it allows the
// printer, the same panel saves what the remote desktop prints, as PDF; where it allows
// audio, the remote desktop's sound plays here (rdp_audio.js).
import { get, openSocket } from '../api.js';
import { h } from '../dom.js';
import { card, showError } from '../ui.js';
import { grantClock } from '../grant_clock.js';
import { describeClose, parseMessage } from '../term.js';
import { scancodeFor } from '../rdp_keys.js';
import { desktopPainter } from '../desktop.js';
import { DRIVE_DATA, drivePanel } from '../rdp_drive.js';
import { audioPlayer } from '../rdp_audio.js';
import { fmtTime } from '../format.js';

const GRANTS_MS = 5000;
// The desktop sizes the broker accepts (worker_protocol.hpp kMinDesktop, kMaxDesktop*).
const MIN_SIZE = 200;
const MAX_WIDTH = 4096;
const MAX_HEIGHT = 2160;


// RDP pointer flags (MS-RDPBCGR 2.2.8.1.1.3.1.1.3).
const PTR_MOVE = 0x0800;
const PTR_DOWN = 0x8000;
const PTR_BUTTONS = { 0: 0x1000, 1: 0x4000, 2: 0x2000 }; // MouseEvent.button: left, middle, right
const PTR_WHEEL = 0x0200;
const PTR_ROTATION_MASK = 0x01ff; // 9-bit two's complement: 0x100 is the negative sign
const WHEEL_NOTCH = 120;
// Clipboard text the broker takes (worker_protocol.hpp kMaxClipboardBytes).
const MAX_CLIPBOARD_BYTES = 65535;

const now = () => fmtTime(new Date().toISOString(), { seconds: true, today: true });
const clamp = (value, low, high) => Math.min(high, Math.max(low, Math.round(value)));


export function renderRdp(root, context) {
  const asset = context.arg;
  if (!asset) {
    root.append(card('Remote desktop', {}, h('p', {}, 'No asset chosen. ', h('a', { href: '#/vendor' }, 'Back to my access'))));
    return;
  }

  const timeLabel = h('span', {}, 'Time left');
  const timeLeft = h('span', { class: 'term-time-left', id: 'rdp-time-left' }, '…');
  const status = h('p', { class: 'term-status term-status-connecting', id: 'rdp-status', role: 'status' }, 'connecting…');
  const sessionId = h('code', { id: 'rdp-session', class: 'term-session-id' });
  const sessionBox = h('span', { class: 'term-session', hidden: true }, 'Session ', sessionId);
  const notice = h('p', { class: 'term-notice', id: 'rdp-notice', role: 'status' });
  const cadButton = h('button', { type: 'button', class: 'btn btn-small', id: 'rdp-cad', disabled: true,
    title: 'Send Ctrl+Alt+Del to the remote desktop' }, 'Ctrl+Alt+Del');
  const refreshButton = h('button', { type: 'button', class: 'btn btn-small btn-quiet', id: 'rdp-refresh', disabled: true,
    title: 'Redraw the whole screen' }, 'Refresh');
  const clipboardButton = h('button', { type: 'button', class: 'btn btn-small btn-quiet', id: 'rdp-clipboard', hidden: true,
    'aria-expanded': 'false', 'aria-controls': 'rdp-clipboard-panel', title: 'Text to and from the remote clipboard' }, 'Clipboard');
  const disconnectButton = h('button', { type: 'button', class: 'btn btn-small btn-danger-outline', id: 'rdp-disconnect', disabled: true },
    'Disconnect');
  const canvas = h('canvas', { id: 'rdp-canvas', class: 'rdp-canvas', tabindex: '0', width: '1024', height: '768',
    'aria-label': `Remote desktop of ${asset}`, dataset: { frames: '0' } });
  const area = h('div', { class: 'rdp-area', id: 'rdp-area' }, canvas);
  const clipboardText = h('textarea', { id: 'rdp-clipboard-text', class: 'mono', rows: '4', spellcheck: 'false',
    'aria-label': 'Clipboard text', placeholder: 'Text copied on the remote desktop appears here. Put text here and send it to paste it there.' });
  const clipboardSend = h('button', { type: 'button', class: 'btn btn-small', id: 'rdp-clipboard-send' }, 'Send to remote clipboard');
  const clipboardCopy = h('button', { type: 'button', class: 'btn btn-small btn-quiet', id: 'rdp-clipboard-copy',
    title: 'Put this text on your own clipboard' }, 'Copy');
  const clipboardStatus = h('span', { class: 'muted', id: 'rdp-clipboard-status', role: 'status' });
  const clipboardPanel = h('div', { class: 'rdp-clipboard', id: 'rdp-clipboard-panel', hidden: true },
    clipboardText, h('div', { class: 'rdp-clipboard-row' }, clipboardSend, clipboardCopy, clipboardStatus));
  // The drive's messages go through the current socket (set by connect()).
  let driveSocket = null;
  const drive = drivePanel({
    sendJson: (message) => {
      if (ended || driveSocket?.readyState !== WebSocket.OPEN) return false;
      driveSocket.send(JSON.stringify(message));
      return true;
    },
    sendBinary: (bytes) => {
      if (ended || driveSocket?.readyState !== WebSocket.OPEN) return false;
      driveSocket.send(bytes);
      return true;
    },
  });
  const closedReason = h('span', { class: 'term-closed-reason', id: 'rdp-closed-reason' });
  const audio = audioPlayer();
  const closedBox = h('div', { class: 'term-closed rdp-closed', hidden: true },
    closedReason,
    h('a', { href: '#/vendor', class: 'btn btn-small', id: 'rdp-back' }, 'Back to my access'));

  root.append(h('div', { class: 'page-stack term-page' },
    h('div', { class: 'term-head' },
      h('a', { href: '#/vendor', class: 'btn btn-small btn-quiet' }, '← My access'),
      h('h1', { class: 'term-title' }, 'Remote desktop', h('span', { class: 'mono term-asset', id: 'rdp-asset' }, asset)),
      h('div', { class: 'term-grant', id: 'rdp-grant' }, timeLabel, timeLeft)),
    h('section', { class: 'card term-card', 'aria-label': `Remote desktop of ${asset}` },
      h('div', { class: 'term-bar' }, status,
        h('div', { class: 'rdp-right' }, sessionBox, clipboardButton, drive.button, audio.button, cadButton, refreshButton, disconnectButton)),
      notice,
      clipboardPanel,
      drive.panel,
      closedBox,
      h('div', { class: 'rdp-panel' }, area))));

  // ---- the grant's time left (GET /grants), counting down every second between refreshes ----
  const applyGrants = grantClock({ timeLabel, timeLeft, asset, protocol: 'rdp', context });

  // ---- the session --------------------------------------------------------------------------
  let ended = false;
  let refreshGrants = () => {};
  let stopInput = () => {};
  const finish = (reason) => {
    if (ended || !context.alive) return;
    ended = true;
    stopInput();
    // Said once, in the closed bar; the status line and the notice area do not repeat it.
    status.textContent = 'closed';
    status.className = 'term-status term-status-closed';
    notice.textContent = '';
    closedReason.textContent = `The remote desktop is closed: ${reason.replace(/[.\s]+$/, '')}.`;
    closedBox.hidden = false;
    canvas.classList.add('rdp-canvas-closed');
    for (const button of [cadButton, refreshButton, disconnectButton, clipboardButton, clipboardSend]) button.disabled = true;
    drive.disable();
    audio.stop();
    // A kill suspends the grant, a revoke ends it: show that now, not at the next refresh.
    refreshGrants();
  };

  (async () => {
    // The grant decides whether there is anything to connect to; if the list cannot be loaded,
    // try anyway: the server decides.
    let list = null;
    try {
      list = await get('/api/v1/grants');
    } catch (error) {
      if (error.status === 401) return;
      if (context.alive) showError(error);
    }
    if (!context.alive) return;
    const grant = list ? applyGrants(list) : null;
    refreshGrants = context.every(GRANTS_MS, async () => {
      const fresh = await get('/api/v1/grants');
      if (context.alive) applyGrants(fresh);
    });
    if (list && grant?.state !== 'active') {
      finish(grant ? `your grant to ${asset} is ${grant.state}` : `you have no grant covering rdp to ${asset}`);
      return;
    }
    connect();
  })();

  function connect() {
    // The desktop is asked for at the size of the area it is shown in (CSS pixels).
    const width = clamp(area.clientWidth || 1024, MIN_SIZE, MAX_WIDTH);
    const height = clamp(area.clientHeight || 768, MIN_SIZE, MAX_HEIGHT);
    canvas.width = width;
    canvas.height = height;
    const socket = openSocket(`/api/v1/rdp?asset=${encodeURIComponent(asset)}&width=${width}&height=${height}`);
    driveSocket = socket;
    let opened = false;
    let started = false;
    let reason = null;
    // True when the message went out.
    const send = (message) => {
      if (ended || socket.readyState !== WebSocket.OPEN) return false;
      socket.send(JSON.stringify(message));
      return true;
    };
    // The flow control: a frame is acknowledged only once every tile of it is on the canvas.
    const painter = desktopPainter(canvas, {
      alive: () => context.alive,
      onFrame: (seq) => send({ type: 'ack', seq }),
    });

    socket.addEventListener('open', () => {
      opened = true;
    });
    socket.addEventListener('message', (event) => {
      if (!context.alive) return;
      if (typeof event.data !== 'string') {
        const bytes = new Uint8Array(event.data);
        if (bytes[0] === DRIVE_DATA) drive.onData(bytes.subarray(1));
        else if (!audio.handle(bytes)) painter.handle(bytes);
        return;
      }
      const message = parseMessage(event.data);
      if (drive.onMessage(message)) return;
      if (message?.type === 'started') {
        const id = String(message.session_id ?? '');
        sessionId.textContent = id;
        sessionId.dataset.sessionId = id;
        sessionBox.hidden = false;
        // The desktop's actual size (the server may not give the one asked for).
        const w = Number(message.width);
        const hgt = Number(message.height);
        if (w > 0 && hgt > 0 && (w !== canvas.width || hgt !== canvas.height)) {
          canvas.width = w;
          canvas.height = hgt;
        }
        canvas.dataset.desktop = `${canvas.width}x${canvas.height}`;
        status.textContent = `connected — session ${id}`;
        status.className = 'term-status term-status-connected';
        started = true;
        for (const button of [cadButton, refreshButton, disconnectButton]) button.disabled = false;
        // The clipboard only where the policy allows it, and only the ways it allows (the broker
        // refuses the rest).
        const toTarget = message.clipboard_to_target === true;
        const fromTarget = message.clipboard_from_target === true;
        clipboardButton.hidden = !(toTarget || fromTarget);
        clipboardSend.hidden = !toTarget;
        clipboardCopy.hidden = !fromTarget;
        clipboardText.readOnly = !toTarget;
        drive.enable(message.drive === true);
        drive.enablePrinter(message.printer === true);
        audio.enable(message.audio === true);
        clipboardText.placeholder = toTarget && fromTarget
          ? 'Text copied on the remote desktop appears here. Put text here and send it to paste it there.'
          : toTarget ? 'Put text here and send it to paste it on the remote desktop (copying from it is not allowed).'
            : 'Text copied on the remote desktop appears here (pasting into it is not allowed).';
        canvas.focus();
      } else if (message?.type === 'notice') {
        notice.textContent = String(message.message ?? '');
      } else if (message?.type === 'clipboard') {
        const text = String(message.text ?? '');
        clipboardText.value = text;
        clipboardStatus.textContent = `Copied on the remote desktop at ${now()} (${text.length} characters).`;
      } else if (message?.type === 'clipboard_refused') {
        clipboardStatus.textContent = `Not sent: ${String(message.message ?? 'refused')}.`;
      } else if (message?.type === 'closed') {
        reason = String(message.reason ?? '') || null;
        stopInput();
      }
    });
    socket.addEventListener('close', (event) => {
      if (!context.alive) return;
      finish(reason ?? describeClose(event, opened));
      // A refused upgrade says nothing to the page; if it was an ended sign-in, this call's 401
      // takes the user to the sign-in page.
      if (!opened) get('/api/v1/me').catch(() => {});
    });

    // ---- keyboard: only while the canvas has the focus ----
    const held = new Map(); // KeyboardEvent.code -> scancode, keys down on the remote side
    const releaseAll = () => {
      for (const code of held.values()) send({ type: 'key', code, down: false });
      held.clear();
    };
    const onKey = (event) => {
      const code = scancodeFor(event.code);
      if (code == null || !started) return;
      event.preventDefault();
      const down = event.type === 'keydown';
      if (down) held.set(event.code, code);
      else if (!held.delete(event.code)) return; // its down went elsewhere (before the focus)
      send({ type: 'key', code, down });
    };
    // The first key or click on the desktop lets the browser start playing its sound.
    canvas.addEventListener('keydown', audio.resume);
    canvas.addEventListener('mousedown', audio.resume);
    canvas.addEventListener('keydown', onKey);
    canvas.addEventListener('keyup', onKey);
    // A key still down when the focus leaves would stay down on the remote desktop.
    canvas.addEventListener('blur', releaseAll);

    // ---- pointer: CSS pixels on the (possibly scaled) canvas -> desktop pixels ----
    const position = (event) => {
      const rect = canvas.getBoundingClientRect();
      const x = rect.width ? ((event.clientX - rect.left) * canvas.width) / rect.width : 0;
      const y = rect.height ? ((event.clientY - rect.top) * canvas.height) / rect.height : 0;
      return { x: clamp(x, 0, canvas.width - 1), y: clamp(y, 0, canvas.height - 1) };
    };
    const pointer = (flags, at) => send({ type: 'pointer', x: at.x, y: at.y, flags });
    let pendingMove = null;
    let moveFrame = 0;
    const onMove = (event) => {
      if (!started) return;
      pendingMove = position(event);
      // One move per animation frame: the screen cannot show more, and each is a frame to send.
      if (!moveFrame) {
        moveFrame = requestAnimationFrame(() => {
          moveFrame = 0;
          if (pendingMove) pointer(PTR_MOVE, pendingMove);
          pendingMove = null;
        });
      }
    };
    const onButton = (event) => {
      const button = PTR_BUTTONS[event.button];
      if (!button || !started) return;
      event.preventDefault();
      if (event.type === 'mousedown') canvas.focus();
      // The click lands where the pointer is now, not where the pending move would put it later.
      pendingMove = null;
      pointer(event.type === 'mousedown' ? PTR_DOWN | button : button, position(event));
    };
    const onWheel = (event) => {
      if (!started) return;
      event.preventDefault();
      if (!event.deltaY) return;
      // One notch (120) per wheel event, in the event's direction: RDP's rotation is +-255 at most
      // and pixel deltas differ wildly between browsers and devices. Scrolling down is negative.
      const rotation = event.deltaY > 0 ? -WHEEL_NOTCH : WHEEL_NOTCH;
      pointer(PTR_WHEEL | (rotation & PTR_ROTATION_MASK), position(event));
    };
    const onContextMenu = (event) => event.preventDefault();
    canvas.addEventListener('mousemove', onMove);
    canvas.addEventListener('mousedown', onButton);
    canvas.addEventListener('mouseup', onButton);
    canvas.addEventListener('wheel', onWheel, { passive: false });
    canvas.addEventListener('contextmenu', onContextMenu);

    stopInput = () => {
      releaseAll();
      started = false;
      if (moveFrame) cancelAnimationFrame(moveFrame);
      moveFrame = 0;
      pendingMove = null;
    };

    // ---- buttons ----
    const onCad = () => {
      send({ type: 'cad' });
      canvas.focus();
    };
    const onRefresh = () => {
      send({ type: 'refresh' });
      canvas.focus();
    };
    const onDisconnect = () => {
      reason = 'you disconnected';
      stopInput();
      if (socket.readyState === WebSocket.CONNECTING || socket.readyState === WebSocket.OPEN) socket.close(1000, 'disconnected');
      finish(reason);
    };
    const onClipboardToggle = () => {
      clipboardPanel.hidden = !clipboardPanel.hidden;
      clipboardButton.setAttribute('aria-expanded', String(!clipboardPanel.hidden));
      if (!clipboardPanel.hidden) clipboardText.focus();
    };
    const onClipboardSend = () => {
      const text = clipboardText.value;
      // The broker's limit is 65,535 bytes of UTF-8; said here rather than after a round trip.
      const bytes = new TextEncoder().encode(text).length;
      if (bytes > MAX_CLIPBOARD_BYTES) {
        clipboardStatus.textContent = `Not sent: ${bytes} bytes, the limit is ${MAX_CLIPBOARD_BYTES}.`;
        return;
      }
      // A lone surrogate (possible in a textarea) is not valid JSON text for the broker.
      const wellFormed = text.toWellFormed ? text.toWellFormed()
        : text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
      if (!send({ type: 'clipboard', text: wellFormed })) {
        clipboardStatus.textContent = 'Not sent: the remote desktop is not connected.';
        return;
      }
      clipboardStatus.textContent = `Sent at ${now()}: paste it on the remote desktop.`;
      canvas.focus();
    };
    const onClipboardCopy = async () => {
      try {
        await navigator.clipboard.writeText(clipboardText.value);
        clipboardStatus.textContent = `On your clipboard since ${now()}.`;
      } catch {
        // Without the Clipboard API (an insecure context, an old browser): select it instead.
        clipboardText.select();
        clipboardStatus.textContent = 'Selected: press Ctrl+C to copy it.';
      }
    };
    clipboardButton.addEventListener('click', onClipboardToggle);
    clipboardSend.addEventListener('click', onClipboardSend);
    clipboardCopy.addEventListener('click', onClipboardCopy);
    cadButton.addEventListener('click', onCad);
    refreshButton.addEventListener('click', onRefresh);
    disconnectButton.addEventListener('click', onDisconnect);

    context.onCleanup(() => {
      stopInput();
      audio.stop();
      if (socket.readyState === WebSocket.CONNECTING || socket.readyState === WebSocket.OPEN) socket.close(1000, 'page closed');
    });
  }
}
