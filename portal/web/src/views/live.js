// #/live/<session_id>: an engineer watches a vendor's session as it happens, read-only (NERC
// CIP-005 R2.4), and can end it (R2.5). docs/api.md, "WebSockets": for a terminal the first
// binary frame replays up to the last 64 KiB of output, then output follows live; a desktop (RDP)
// session first says {"type":"desktop","width","height"} and then streams tiles from a keyframe,
// with {"type":"clipboard","direction","decision","text"} for clipboard text as it passes (or is
// refused); {"type":"file","operation","path","size","sha256","detail"} for each file moved over
// sftp or scp, or through a desktop's drive; {"type":"closed"} at the end.
import { get, openSocket, post, seg } from '../api.js';
import { h, replace } from '../dom.js';
import { card, reasonForm, statusLine } from '../ui.js';
import { fmtBytes, fmtTime, isoTitle } from '../format.js';
import { describeClose, mountTerminal, parseMessage } from '../term.js';
import { desktopPainter } from '../desktop.js';

const SESSIONS_MS = 2000;

export function renderLive(root, context) {
  const id = context.arg;
  if (!id) {
    root.append(card('Live view', {}, h('p', {}, 'No session chosen. ', h('a', { href: '#/engineer' }, 'Back to live sessions'))));
    return;
  }

  const facts = {
    user: h('dd', { id: 'live-user', class: 'strong' }, '…'),
    asset: h('dd', { id: 'live-asset' }, '…'),
    protocol: h('dd', { id: 'live-protocol' }, '…'),
    source: h('dd', { id: 'live-source', class: 'mono' }, '…'),
    started: h('dd', { id: 'live-started' }, '…'),
    until: h('dd', { id: 'live-until' }, '…'),
  };
  const factList = h('dl', { class: 'facts live-facts', id: 'live-facts' },
    h('dt', {}, 'User'), facts.user,
    h('dt', {}, 'Asset'), facts.asset,
    h('dt', {}, 'Source'), facts.source,
    h('dt', {}, 'Protocol'), facts.protocol,
    h('dt', {}, 'Started'), facts.started,
    h('dt', {}, 'Until'), facts.until);
  const openNote = h('p', { class: 'sub live-open-note', id: 'live-open-note', hidden: true },
    'This session is not in the list of open sessions.');

  const status = h('p', { class: 'term-status term-status-connecting', id: 'live-status', role: 'status' }, 'connecting…');
  const banner = h('div', { class: 'live-closed', id: 'live-closed', role: 'alert', hidden: true });
  const box = h('div', { class: 'term-box term-box-live', id: 'live-terminal' });
  // A desktop session's clipboard text, newest first, while this page watches.
  const clipboardList = h('ul', { class: 'replay-markers', id: 'live-clipboard' });
  const clipboardBox = h('div', { hidden: true }, h('h3', {}, 'Clipboard'), clipboardList);
  // File operations (sftp, scp, a desktop's drive), newest first, while this page watches.
  const filesList = h('ul', { class: 'replay-markers', id: 'live-files' });
  const filesBox = h('div', { hidden: true }, h('h3', {}, 'Files'), filesList);
  const killStatus = statusLine('live-kill-status');
  const kill = h('button', { type: 'button', class: 'btn btn-danger', id: 'live-kill', 'data-session-id': id }, 'Kill');
  const killBox = h('div', { class: 'live-kill' }, killStatus, kill);

  kill.addEventListener('click', () => {
    kill.hidden = true;
    killBox.append(reasonForm({
      label: 'Reason for ending the session', placeholder: 'Reason', confirmText: 'End session', action: 'kill-confirm',
      onClose: () => { kill.hidden = ended; },
      onSubmit: async (reason) => {
        const s = await post(`/api/v1/sessions/${seg(id)}/kill`, { reason });
        killStatus.say(`Session ${id} of ${s?.user ?? 'the user'} ended; its grant is suspended.`);
        refreshSessions();
      },
    }));
  });

  root.append(h('div', { class: 'page-stack term-page' },
    h('div', { class: 'term-head' },
      h('a', { href: '#/engineer', class: 'btn btn-small btn-quiet' }, '← Live sessions'),
      h('h1', { class: 'term-title' }, 'Live session', h('span', { class: 'mono', id: 'live-session-id' }, id),
        h('span', { class: 'badge badge-neutral' }, 'read-only')),
      killBox),
    banner,
    h('section', { class: 'card term-card', 'aria-label': `Session ${id}` },
      factList, openNote,
      h('div', { class: 'term-bar' }, status),
      h('div', { class: 'term-panel' }, box),
      clipboardBox, filesBox)));

  // ---- the session's facts (GET /sessions) --------------------------------------------------
  let listed = false;
  const refreshSessions = context.every(SESSIONS_MS, async () => {
    const list = await get('/api/v1/sessions');
    if (!context.alive) return;
    const s = (Array.isArray(list) ? list : []).find((x) => String(x.id) === id);
    openNote.hidden = Boolean(s);
    if (!s) {
      if (!listed) Object.values(facts).forEach((dd) => { dd.textContent = '—'; });
      return;
    }
    listed = true;
    facts.user.textContent = s.user ?? '—';
    facts.asset.textContent = s.asset ?? '—';
    facts.protocol.textContent = s.protocol ?? '—';
    facts.source.textContent = s.source ?? '—';
    facts.started.textContent = fmtTime(s.started_at, { seconds: true });
    facts.started.title = isoTitle(s.started_at) ?? '';
    facts.until.textContent = fmtTime(s.until);
    facts.until.title = isoTitle(s.until) ?? '';
  });

  // ---- the terminal -------------------------------------------------------------------------
  let ended = false;
  const finish = (reason, sessionEnded) => {
    if (ended || !context.alive) return;
    ended = true;
    status.textContent = `closed: ${reason}`;
    status.className = 'term-status term-status-closed';
    replace(banner, h('strong', {}, sessionEnded ? 'Session ended: ' : 'Live view closed: '), reason);
    banner.hidden = false;
    // An ended session cannot be killed; after a lost connection it may still be running.
    if (sessionEnded) {
      kill.hidden = true;
      killBox.querySelector('form')?.remove();
    }
  };

  (async () => {
    let mounted;
    try {
      mounted = await mountTerminal(box, context, { readOnly: true });
    } catch (error) {
      finish(`the terminal could not start (${error.message})`, false);
      return;
    }
    if (!mounted) return;
    const { term, holdSize } = mounted;
    const socket = openSocket(`/api/v1/sessions/${seg(id)}/live`);
    let opened = false;
    let reason = null;
    let painter = null; // a desktop session: tiles go to a canvas instead of the terminal
    socket.addEventListener('open', () => {
      opened = true;
      if (!ended) {
        status.textContent = 'watching — read-only';
        status.className = 'term-status term-status-connected';
      }
    });
    socket.addEventListener('message', (event) => {
      if (!context.alive) return;
      if (typeof event.data !== 'string') {
        const bytes = new Uint8Array(event.data);
        if (painter) painter.handle(bytes);
        else term.write(bytes);
        return;
      }
      const message = parseMessage(event.data);
      if (message?.type === 'desktop' && !painter) {
        const canvas = h('canvas', { id: 'live-desktop', class: 'rdp-canvas' });
        canvas.width = Math.max(1, Number(message.width) || 1024);
        canvas.height = Math.max(1, Number(message.height) || 768);
        replace(box, canvas);
        box.classList.add('live-desktop-box');
        painter = desktopPainter(canvas, { alive: () => context.alive });
      } else if (message?.type === 'clipboard') {
        const way = message.direction === 'to_target' ? 'pasted by the vendor' : 'copied on the target';
        const refused = message.decision === 'allow' ? '' : ' (refused)';
        clipboardList.prepend(h('li', {}, h('span', { class: 'mono' }, fmtTime(new Date().toISOString(), { seconds: true, today: true })),
          ` ${way}${refused}: `, h('span', { class: 'mono' }, String(message.text ?? ''))));
        // The newest 200: the recording has them all.
        while (clipboardList.children.length > 200) clipboardList.lastElementChild.remove();
        clipboardBox.hidden = false;
      } else if (message?.type === 'file') {
        const moved = ['upload', 'download', 'print'].includes(message.operation);
        filesList.prepend(h('li', {}, h('span', { class: 'mono' }, fmtTime(new Date().toISOString(), { seconds: true, today: true })),
          ` ${String(message.operation ?? '')} `, h('span', { class: 'mono' }, String(message.path ?? '')),
          moved ? ` (${fmtBytes(Number(message.size) || 0)}${message.sha256 ? `, SHA-256 ${message.sha256}` : ''})` : '',
          message.detail ? ` — ${message.detail}` : ''));
        while (filesList.children.length > 200) filesList.lastElementChild.remove();
        filesBox.hidden = false;
      } else if (message?.type === 'closed') {
        reason = String(message.reason ?? '') || 'the session ended';
      } else if (message?.type === 'resize') {
        // Not in docs/api.md yet: if the server ever sends the session's terminal size, show the
        // output at that size instead of the size of this page.
        const cols = Number(message.cols);
        const rows = Number(message.rows);
        if (Number.isInteger(cols) && Number.isInteger(rows) && cols > 0 && rows > 0 && cols <= 1000 && rows <= 1000) {
          holdSize();
          term.resize(cols, rows);
        }
      }
    });
    socket.addEventListener('close', (event) => {
      if (!context.alive) return;
      finish(reason ?? describeClose(event, opened), reason != null);
      if (!opened) get('/api/v1/me').catch(() => {});
    });
    context.onCleanup(() => {
      if (socket.readyState === WebSocket.CONNECTING || socket.readyState === WebSocket.OPEN) socket.close(1000, 'page closed');
    });
  })();
}
