// #/engineer: decide pending requests, revoke or reinstate grants, watch and end live sessions
// (NERC CIP-005 R2.4 see, R2.5 disable), and the end-everything switch.
import { get, post, seg } from '../api.js';
import { h, replace, KeyedList } from '../dom.js';
import { badge, busy, card, field, placeholderRow, reasonForm, statusLine, table } from '../ui.js';
import { fmtDuration, fmtList, fmtTime, fmtWindow, isoTitle } from '../format.js';

const REQUESTS_MS = 5000;
// 1 s: a vendor's tool is waiting on each held write (mbpoll waits at most 10 s).
const HOLDS_MS = 1000;
// 2 s: a supervising engineer must see a session appear or end almost at once (CIP-005 R2.4).
const SESSIONS_MS = 2000;
const KILL_ALL_PHRASE = 'END ALL VENDOR SESSIONS';

export function renderEngineer(root, context) {
  const me = context.user.username;
  const pending = pendingCard(me);
  const holds = holdsCard(me);
  const grants = grantsCard();
  const sessions = sessionsCard();
  const danger = killAllCard(() => { refreshSessions(); refreshGrants(); });
  root.append(h('div', { class: 'page-stack' }, holds.el, pending.el, sessions.el, grants.el, danger));

  holds.onChange = () => refreshHolds();
  const refreshHolds = context.every(HOLDS_MS, async () => {
    const list = await get('/api/v1/holds');
    if (context.alive) holds.set(list ?? []);
  });

  pending.onChange = () => { refreshPending(); refreshGrants(); };
  grants.onChange = () => { refreshGrants(); refreshSessions(); };
  sessions.onChange = () => { refreshSessions(); refreshGrants(); };

  const refreshPending = context.every(REQUESTS_MS, async () => {
    const list = await get('/api/v1/requests?state=pending');
    if (context.alive) pending.set(list ?? []);
  });
  const refreshGrants = context.every(REQUESTS_MS, async () => {
    const list = await get('/api/v1/grants');
    if (context.alive) grants.set(list ?? []);
  });
  const refreshSessions = context.every(SESSIONS_MS, async () => {
    const list = await get('/api/v1/sessions');
    if (context.alive) sessions.set(list ?? []);
  });
}

function loadingAware(body, list, loadingNode) {
  body.append(loadingNode);
  let loaded = false;
  return (items) => {
    if (!loaded) { loadingNode.remove(); loaded = true; }
    list.set(items);
  };
}

// ---- pending approvals ----------------------------------------------------------------------

function pendingCard(me) {
  const status = statusLine('pending-status');
  const container = h('div', { class: 'approval-list', id: 'pending-list' });
  const self = { el: null, onChange: () => {} };
  const list = new KeyedList(container, {
    key: (r) => r.id,
    empty: h('p', { class: 'empty-note' }, 'Nothing waiting for a decision.'),
    create: (first) => {
      const id = first.id;
      const title = h('h3', { class: 'approval-title' });
      const stateBox = h('div', { class: 'approval-state' });
      const facts = h('dl', { class: 'facts' });
      const votes = h('ul', { class: 'votes' });
      const explain = h('pre', { class: 'explain', id: `explain-${id}`, hidden: true });
      const why = h('button', { type: 'button', class: 'btn btn-small btn-quiet', 'data-action': 'explain',
        'data-request-id': id, 'aria-expanded': 'false', 'aria-controls': `explain-${id}` }, 'Why?');
      const comment = h('input', { type: 'text', name: 'comment', id: `comment-${id}`, maxlength: 1000,
        placeholder: 'Comment (recorded with your decision)', autocomplete: 'off' });
      const approve = h('button', { type: 'button', class: 'btn btn-primary', 'data-action': 'approve',
        'data-request-id': id }, 'Approve');
      const deny = h('button', { type: 'button', class: 'btn btn-outline', 'data-action': 'deny',
        'data-request-id': id }, 'Deny');
      const ownNote = h('p', { class: 'sub own-note', hidden: true }, 'Your own request: another engineer decides.');

      let explained = false;
      why.addEventListener('click', async () => {
        const open = explain.hidden;
        explain.hidden = !open;
        why.setAttribute('aria-expanded', String(open));
        why.textContent = open ? 'Hide why' : 'Why?';
        if (!open || explained) return;
        explain.textContent = 'Loading…';
        const result = await busy(why, () => get(`/api/v1/requests/${seg(id)}/explain`));
        if (!result) { explain.textContent = 'The explanation could not be loaded.'; return; }
        explained = true;
        explain.textContent = `${result.decision ? `Decision: ${result.decision}\n\n` : ''}${result.text ?? ''}`;
      });

      const decide = (verb, button) => async () => {
        const result = await busy(button, () => post(`/api/v1/requests/${seg(id)}/${verb}`, { comment: comment.value.trim() }));
        if (!result) return;
        const r = result.request ?? {};
        let text = `Request #${id} ${verb === 'approve' ? 'approved' : 'denied'}.`;
        if (verb === 'approve' && result.grant) text = `Request #${id} approved: grant #${result.grant.id} issued.`;
        else if (verb === 'approve' && r.state === 'pending') text = `Your approval of #${id} is recorded; more approvals are needed.`;
        status.say(text);
        self.onChange();
      };
      approve.addEventListener('click', decide('approve', approve));
      deny.addEventListener('click', decide('deny', deny));

      const el = h('article', { class: 'approval', dataset: { requestId: id } },
        h('div', { class: 'approval-head' }, title, stateBox),
        facts, votes,
        h('div', { class: 'approval-why' }, why, explain),
        h('div', { class: 'approval-decide' }, comment, approve, deny),
        ownNote);

      return {
        el,
        update(r) {
          replace(title, `#${r.id} `, h('span', { class: 'strong' }, r.asset), h('span', { class: 'sub' }, ` ${fmtList(r.protocols)}`));
          const approvals = (r.votes ?? []).filter((v) => v.approve).length;
          replace(stateBox, badge(r.state),
            r.approvals_required ? h('span', { class: 'sub' }, ` ${approvals} of ${r.approvals_required} approvals`) : null);
          replace(facts,
            fact('Requester', r.requester),
            fact('Window', fmtWindow(r.window_start, r.window_end), `${r.window_start} – ${r.window_end} (UTC)`),
            fact('Reason', r.reason, null, 'wrap-text'),
            fact('Ticket', r.ticket || '—'),
            fact('Owner group', r.owner_group),
            fact('Policy rule', r.policy_rule || '—'),
            fact('Requested', fmtTime(r.created_at), isoTitle(r.created_at)));
          replace(votes, (r.votes ?? []).map((v) => h('li', {},
            badge(v.approve ? 'approved' : 'denied'), ` ${v.approver}`,
            v.comment ? h('span', { class: 'sub' }, ` — ${v.comment}`) : null,
            h('span', { class: 'sub', title: isoTitle(v.at) }, ` ${fmtTime(v.at)}`))));
          votes.hidden = !(r.votes ?? []).length;
          const own = r.requester === me;
          approve.disabled = own;
          deny.disabled = own;
          ownNote.hidden = !own;
        },
      };
    },
  });
  self.set = loadingAware(container, list, h('p', { class: 'empty-note' }, 'Loading…'));
  self.el = card('Pending approvals', { id: 'pending-approvals', tools: status }, container);
  return self;
}

// ---- writes held for approval (IEC 62443 SR 2.1 RE4: four eyes on each write) ---------------

function describeWrite(req) {
  const values = Array.isArray(req.values) ? req.values.join(', ') : '';
  const where = req.count > 1 ? `${req.address}..${req.address + req.count - 1}` : `${req.address ?? '—'}`;
  return { what: `${req.function_name ?? `function ${req.function}`} (${req.function})`, where, values };
}

function holdsCard(me) {
  const status = statusLine('holds-status');
  const { el: tableEl, body } = table(['#', 'Vendor', 'Asset', 'Write', 'Unit', 'Address', 'Values', 'Held', ''],
    { id: 'held-writes-table', caption: 'Writes waiting for approval' });
  const self = { onChange: () => {} };
  const list = new KeyedList(body, {
    key: (w) => w.id,
    empty: placeholderRow(9, 'No write is waiting.'),
    create: (first) => {
      const id = first.id;
      const cells = {
        id: h('td', { class: 'num' }), user: h('td'), asset: h('td', { class: 'strong' }), what: h('td'),
        unit: h('td', { class: 'num' }), where: h('td', { class: 'num nowrap' }), values: h('td', { class: 'wrap-text' }),
        held: h('td', { class: 'nowrap' }), actions: h('td', { class: 'actions' }),
      };
      const approve = h('button', { type: 'button', class: 'btn btn-small btn-primary', 'data-action': 'approve-write',
        'data-hold-id': id }, 'Approve');
      const deny = h('button', { type: 'button', class: 'btn btn-small btn-outline', 'data-action': 'deny-write',
        'data-hold-id': id }, 'Deny');
      const decide = (verb, button) => async () => {
        const result = await busy(button, () => post(`/api/v1/holds/${seg(id)}/${verb}`, {}));
        if (!result) return;
        status.say(`Write #${id} ${verb === 'approve' ? 'approved: it goes to the PLC now' : 'denied: the vendor\'s tool gets an exception'}.`);
        self.onChange();
      };
      approve.addEventListener('click', decide('approve', approve));
      deny.addEventListener('click', decide('deny', deny));
      cells.actions.append(h('span', { class: 'btn-row' }, approve, deny));
      return {
        el: h('tr', { dataset: { holdId: id } }, Object.values(cells)),
        update(w) {
          const req = w.request ?? {};
          const d = describeWrite(req);
          cells.id.textContent = w.id;
          cells.user.textContent = w.user;
          cells.asset.textContent = w.asset;
          cells.what.textContent = d.what;
          cells.unit.textContent = req.unit ?? '—';
          cells.where.textContent = d.where;
          cells.values.textContent = d.values || '—';
          replace(cells.held, h('span', { title: isoTitle(w.held_at) }, fmtTime(w.held_at, { seconds: true })));
          const own = w.user === me;
          approve.disabled = own;
          deny.disabled = own;
        },
      };
    },
  });
  self.set = loadingAware(body, list, placeholderRow(9, 'Loading…'));
  self.el = card('Writes waiting for approval', {
    id: 'held-writes',
    description: 'Modbus writes held by policy (writes = "approve"). The vendor\'s tool waits for your answer; undecided writes are refused after 120 s.',
    tools: status,
  }, tableEl);
  return self;
}

function fact(label, value, title, cls) {
  return [h('dt', {}, label), h('dd', { title, class: cls }, value ?? '—')];
}

// ---- grants ---------------------------------------------------------------------------------

// A revoked grant is final; active and suspended grants inside their window are listed.
const FINISHED = new Set(['revoked']);

function grantsCard() {
  const status = statusLine('grants-status');
  const { el: tableEl, body } = table(['#', 'User', 'Asset', 'Window', 'State', 'Time left', ''],
    { id: 'active-grants-table', caption: 'Active grants' });
  const self = { onChange: () => {} };
  const list = new KeyedList(body, {
    key: (g) => g.id,
    empty: placeholderRow(7, 'No active grants.'),
    create: (first) => {
      const id = first.id;
      const cells = {
        id: h('td', { class: 'num' }), user: h('td'), asset: h('td'), window: h('td', { class: 'nowrap' }),
        state: h('td'), left: h('td', { class: 'nowrap' }), actions: h('td', { class: 'actions' }),
      };
      const revoke = h('button', { type: 'button', class: 'btn btn-small btn-danger-outline', 'data-action': 'revoke',
        'data-grant-id': id }, 'Revoke');
      const reinstate = h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'reinstate',
        'data-grant-id': id }, 'Reinstate');
      const buttons = h('span', { class: 'btn-row' });
      let grant = first;
      const openForm = (form) => {
        buttons.hidden = true;
        cells.actions.append(form);
      };
      const closed = () => { buttons.hidden = false; };
      revoke.addEventListener('click', () => openForm(reasonForm({
        label: 'Reason for revoking', placeholder: 'Reason', confirmText: 'Revoke', action: 'revoke-confirm', onClose: closed,
        onSubmit: async (reason) => {
          const g = await post(`/api/v1/grants/${seg(id)}/revoke`, { reason });
          status.say(`Grant #${id} ${g?.state ?? 'revoked'}.`);
          self.onChange();
        },
      })));
      reinstate.addEventListener('click', () => openForm(reasonForm({
        label: 'Comment', placeholder: 'Comment (optional)', confirmText: 'Reinstate', action: 'reinstate-confirm', danger: false, required: false,
        onClose: closed,
        onSubmit: async (comment) => {
          const g = await post(`/api/v1/grants/${seg(id)}/reinstate`, { comment });
          status.say(`Grant #${id} ${g?.state ?? 'reinstated'}.`);
          self.onChange();
        },
      })));
      cells.actions.append(buttons);
      const row = h('tr', { dataset: { grantId: id } }, Object.values(cells));
      return {
        el: row,
        update(g) {
          grant = g;
          cells.id.textContent = g.id;
          cells.user.textContent = g.user;
          replace(cells.asset, h('div', { class: 'strong nowrap' }, g.asset), h('div', { class: 'sub' }, fmtList(g.protocols)));
          cells.window.textContent = fmtWindow(g.not_before, g.not_after);
          cells.window.title = `${g.not_before} – ${g.not_after} (UTC)`;
          replace(cells.state, badge(g.state), g.state_reason ? h('div', { class: 'sub' }, g.state_reason) : null);
          const startsAt = Date.parse(g.not_before);
          if (g.state === 'active' && startsAt > Date.now()) cells.left.textContent = `starts ${fmtTime(g.not_before, { today: true })}`;
          else cells.left.textContent = g.state === 'active' && g.seconds_left > 0 ? fmtDuration(g.seconds_left) : '—';
          replace(buttons, grant.state === 'suspended' ? reinstate : null, revoke);
        },
      };
    },
  });
  const set = loadingAware(body, list, placeholderRow(7, 'Loading…'));
  self.set = (items) => {
    const now = Date.now();
    set(items.filter((g) => !FINISHED.has(g.state) && !(Date.parse(g.not_after) <= now)));
  };
  self.el = card('Active grants', {
    id: 'active-grants', tools: status,
    description: 'Grants whose window has not ended. Revoking ends the grant for good; a suspended grant can be reinstated.',
  }, tableEl);
  return self;
}

// ---- live sessions --------------------------------------------------------------------------

function sessionsCard() {
  const status = statusLine('sessions-status');
  const { el: tableEl, body } = table(['Session', 'User', 'Asset', 'Protocol', 'Source', 'Started', 'Until', ''],
    { id: 'sessions-table', caption: 'Live sessions' });
  const self = { onChange: () => {} };
  const list = new KeyedList(body, {
    key: (s) => s.id,
    empty: placeholderRow(8, 'No open sessions.'),
    create: (first) => {
      const id = first.id;
      const cells = {
        id: h('td', { class: 'mono nowrap' }), user: h('td', { class: 'strong' }), asset: h('td', { class: 'nowrap' }),
        protocol: h('td'), source: h('td', { class: 'mono nowrap' }), started: h('td', { class: 'nowrap' }), until: h('td', { class: 'nowrap' }),
        actions: h('td', { class: 'actions' }),
      };
      const kill = h('button', { type: 'button', class: 'btn btn-small btn-danger', 'data-action': 'kill',
        'data-session-id': id }, 'Kill');
      // #/live/<id>: the session's terminal, read-only, as it happens.
      const watch = h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'watch',
        'data-session-id': id, title: `Watch session ${id} live` }, 'Watch');
      watch.addEventListener('click', () => { location.hash = `#/live/${encodeURIComponent(id)}`; });
      const buttons = h('span', { class: 'btn-row' }, watch, kill);
      kill.addEventListener('click', () => {
        buttons.hidden = true;
        cells.actions.append(reasonForm({
          label: 'Reason for ending the session', placeholder: 'Reason', confirmText: 'End session', action: 'kill-confirm',
          onClose: () => { buttons.hidden = false; },
          onSubmit: async (reason) => {
            const s = await post(`/api/v1/sessions/${seg(id)}/kill`, { reason });
            status.say(`Session ${id} of ${s?.user ?? 'the user'} ended; its grant is suspended.`);
            self.onChange();
          },
        }));
      });
      cells.actions.append(buttons);
      return {
        el: h('tr', { dataset: { sessionId: id } }, Object.values(cells)),
        update(s) {
          cells.id.textContent = s.id;
          cells.user.textContent = s.user;
          cells.asset.textContent = s.asset;
          cells.protocol.textContent = s.protocol;
          cells.source.textContent = s.source ?? '—';
          cells.started.textContent = fmtTime(s.started_at, { seconds: true, today: true });
          cells.started.title = isoTitle(s.started_at) ?? '';
          cells.until.textContent = fmtTime(s.until, { today: true });
          cells.until.title = isoTitle(s.until) ?? '';
        },
      };
    },
  });
  self.set = loadingAware(body, list, placeholderRow(8, 'Loading…'));
  self.el = card('Live sessions', { id: 'live-sessions', tools: status,
    description: 'Open sessions, refreshed every 2 seconds. Killing a session ends it within a second and suspends its grant.',
  }, tableEl);
  return self;
}

// ---- end all --------------------------------------------------------------------------------

function killAllCard(onDone) {
  const status = statusLine('killall-status');
  const phrase = h('input', { type: 'text', id: 'killall-phrase', name: 'confirm', autocomplete: 'off',
    spellcheck: 'false', placeholder: KILL_ALL_PHRASE });
  const reason = h('input', { type: 'text', id: 'killall-reason', name: 'reason', required: true, maxlength: 500,
    autocomplete: 'off' });
  const submit = h('button', { type: 'submit', id: 'killall-submit', class: 'btn btn-danger',
    'data-action': 'kill-all', disabled: true }, 'End all vendor sessions');
  // The exact phrase, typed: a deliberate act, not a stray click (no trimming, no case folding).
  phrase.addEventListener('input', () => { submit.disabled = phrase.value !== KILL_ALL_PHRASE; });
  const form = h('form', { id: 'killall-form', class: 'filters killall-form' },
    field(`Type ${KILL_ALL_PHRASE} to confirm`, phrase),
    field('Reason', reason, { wide: true }),
    h('div', { class: 'filters-actions' }, submit));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (phrase.value !== KILL_ALL_PHRASE) return;
    const result = await busy(submit, () => post('/api/v1/sessions/kill-all',
      { confirm: KILL_ALL_PHRASE, reason: reason.value.trim() }));
    submit.disabled = true;
    if (!result) { submit.disabled = phrase.value !== KILL_ALL_PHRASE; return; }
    phrase.value = '';
    reason.value = '';
    const n = result.suspended_grants ?? 0;
    status.say(`All vendor sessions ended; ${n} grant${n === 1 ? '' : 's'} suspended.`);
    onDone();
  });
  return card('Danger zone', {
    id: 'danger-zone', tone: 'danger', tools: status,
    description: 'Ends every open vendor session and suspends their grants (NERC CIP-005 R2.5). '
      + 'Vendors cannot reconnect until an engineer reinstates each grant.',
  }, form);
}
