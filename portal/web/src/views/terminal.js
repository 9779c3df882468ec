// #/terminal/<asset>: the browser terminal, for vendors without an SSH client (docs/api.md,
// "WebSockets"). The broker opens the shell on the asset as the SSH gateway does; this page only
// pipes bytes: output into xterm, keys out as {"type":"input"}. A closed terminal stays closed: no
// automatic reconnect, so a session an engineer killed stays killed.
import { get, openSocket } from '../api.js';
import { h } from '../dom.js';
import { card, showError } from '../ui.js';
import { grantClock } from '../grant_clock.js';
import { describeClose, mountTerminal, parseMessage } from '../term.js';

const GRANTS_MS = 5000;


export function renderTerminal(root, context) {
  const asset = context.arg;
  if (!asset) {
    root.append(card('Browser terminal', {}, h('p', {}, 'No asset chosen. ', h('a', { href: '#/vendor' }, 'Back to my access'))));
    return;
  }

  const timeLabel = h('span', {}, 'Time left');
  const timeLeft = h('span', { class: 'term-time-left', id: 'terminal-time-left' }, '…');
  const status = h('p', { class: 'term-status term-status-connecting', id: 'terminal-status', role: 'status' }, 'connecting…');
  const sessionId = h('code', { id: 'terminal-session', class: 'term-session-id' });
  const sessionBox = h('span', { class: 'term-session', hidden: true }, 'Session ', sessionId);
  const notice = h('p', { class: 'term-notice', id: 'terminal-notice', role: 'status' });
  const box = h('div', { class: 'term-box term-box-full', id: 'terminal' });
  const closedReason = h('span', { class: 'term-closed-reason', id: 'terminal-closed-reason' });
  const closedBox = h('div', { class: 'term-closed', hidden: true },
    closedReason,
    h('a', { href: '#/vendor', class: 'btn btn-small', id: 'terminal-back' }, 'Back to my access'));

  root.append(h('div', { class: 'page-stack term-page' },
    h('div', { class: 'term-head' },
      h('a', { href: '#/vendor', class: 'btn btn-small btn-quiet' }, '← My access'),
      h('h1', { class: 'term-title' }, 'Terminal', h('span', { class: 'mono term-asset', id: 'terminal-asset' }, asset)),
      h('div', { class: 'term-grant', id: 'terminal-grant' }, timeLabel, timeLeft)),
    h('section', { class: 'card term-card', 'aria-label': `Terminal on ${asset}` },
      h('div', { class: 'term-bar' }, status, sessionBox),
      notice,
      h('div', { class: 'term-panel' }, box),
      closedBox)));

  // ---- the grant's time left (GET /grants), counting down every second between refreshes ----
  const applyGrants = grantClock({ timeLabel, timeLeft, asset, protocol: 'ssh', context });

  // ---- the terminal -------------------------------------------------------------------------
  let ended = false;
  let refreshGrants = () => {};
  const finish = (reason) => {
    if (ended || !context.alive) return;
    ended = true;
    // Said once, in the red bar; the status line and the notice area do not repeat it.
    status.textContent = 'closed';
    status.className = 'term-status term-status-closed';
    notice.textContent = '';
    closedReason.textContent = `The terminal is closed: ${reason.replace(/[.\s]+$/, '')}.`;
    closedBox.hidden = false;
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

    let mounted;
    try {
      mounted = await mountTerminal(box, context);
    } catch (error) {
      finish(`the terminal could not start (${error.message})`);
      return;
    }
    if (!mounted) return;
    const { term } = mounted;
    if (list && grant?.state !== 'active') {
      term.options.disableStdin = true;
      term.write('\x1b[?25l');
      finish(grant ? `your grant to ${asset} is ${grant.state}` : `you have no grant covering ssh to ${asset}`);
      return;
    }
    connect(term);
  })();

  function connect(term) {
    const { cols, rows } = term;
    const socket = openSocket(`/api/v1/terminal?asset=${encodeURIComponent(asset)}&cols=${cols}&rows=${rows}`);
    let opened = false;
    let reason = null;
    const send = (message) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    };

    socket.addEventListener('open', () => {
      opened = true;
      // Resized while connecting: the size in the URL is stale.
      if (term.cols !== cols || term.rows !== rows) send({ type: 'resize', cols: term.cols, rows: term.rows });
      term.focus();
    });
    socket.addEventListener('message', (event) => {
      if (!context.alive) return;
      if (typeof event.data !== 'string') {
        term.write(new Uint8Array(event.data));
        return;
      }
      const message = parseMessage(event.data);
      if (message?.type === 'started') {
        const id = String(message.session_id ?? '');
        sessionId.textContent = id;
        sessionId.dataset.sessionId = id;
        sessionBox.hidden = false;
        status.textContent = `connected — session ${id}`;
        status.className = 'term-status term-status-connected';
      } else if (message?.type === 'notice') {
        notice.textContent = String(message.message ?? '');
      } else if (message?.type === 'closed') {
        reason = String(message.reason ?? '') || null;
      }
    });
    socket.addEventListener('close', (event) => {
      if (!context.alive) return;
      term.options.disableStdin = true;
      term.options.cursorBlink = false;
      term.write('\x1b[?25l'); // hide the cursor: nothing typed goes anywhere now
      finish(reason ?? describeClose(event, opened));
      // A refused upgrade says nothing to the page; if it was an ended sign-in, this call's 401
      // takes the user to the sign-in page.
      if (!opened) get('/api/v1/me').catch(() => {});
    });

    const input = term.onData((data) => send({ type: 'input', data }));
    const resize = term.onResize((size) => send({ type: 'resize', cols: size.cols, rows: size.rows }));
    context.onCleanup(() => {
      input.dispose();
      resize.dispose();
      if (socket.readyState === WebSocket.CONNECTING || socket.readyState === WebSocket.OPEN) socket.close(1000, 'page closed');
    });
  }
}
