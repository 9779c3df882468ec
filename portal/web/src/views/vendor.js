// #/vendor: my grants (with the exact ssh command), a request form, my requests, my SSH keys.
import { get, post, seg } from '../api.js';
import { h, replace, KeyedList } from '../dom.js';
import { badge, busy, card, copyableCode, field, placeholderRow, statusLine, table } from '../ui.js';
import { fmtDuration, fmtList, fmtWindow, localInputToUtc, toLocalInput } from '../format.js';

const REFRESH_MS = 5000;
// Under 5 minutes left the countdown turns amber: time to save work before the forced end.
const WARN_SECONDS = 300;

export function renderVendor(root, context) {
  const grants = grantsCard(context);
  const requests = requestsCard(context.user.username);
  const form = requestForm(context, () => { refreshLists(); });
  const keys = sshKeysCard(context);
  root.append(h('div', { class: 'page-grid' },
    h('div', { class: 'col-main' }, grants.el, requests.el),
    h('div', { class: 'col-side' }, form, keys.el)));

  const refreshLists = context.every(REFRESH_MS, async () => {
    const [grantList, requestList] = await Promise.all([
      get('/api/v1/grants'),
      get('/api/v1/requests'),
    ]);
    if (!context.alive) return;
    grants.set(grantList ?? []);
    requests.set(requestList ?? []);
  });
  keys.load();

  // The countdown moves every second between refreshes.
  const ticker = setInterval(() => grants.tick(), 1000);
  context.onCleanup(() => clearInterval(ticker));
}

function grantsCard() {
  const { el: tableEl, body } = table(['Asset', 'Protocols', 'Window', 'State', 'Time left', 'Connect'],
    { id: 'grants-table', caption: 'My access' });
  const list = new KeyedList(body, {
    key: (g) => g.id,
    empty: placeholderRow(6, 'No grants yet. Request access to an asset below.'),
    create: () => {
      const cells = {
        asset: h('td', { class: 'strong nowrap' }),
        protocols: h('td'),
        window: h('td', { class: 'nowrap' }),
        state: h('td'),
        left: h('td', { class: 'time-left nowrap' }),
        connect: h('td', { class: 'connect' }),
      };
      const row = h('tr', {}, Object.values(cells));
      const entry = {
        el: row,
        grant: null,
        deadline: 0,
        startsAt: 0,
        update(grant) {
          entry.grant = grant;
          row.dataset.grantId = grant.id;
          cells.asset.textContent = grant.asset;
          cells.protocols.textContent = fmtList(grant.protocols);
          cells.window.textContent = fmtWindow(grant.not_before, grant.not_after);
          cells.window.title = `${grant.not_before} – ${grant.not_after} (UTC)`;
          replace(cells.state, badge(grant.state),
            grant.state_reason ? h('div', { class: 'sub' }, grant.state_reason) : null);
          entry.deadline = Date.now() + (Number(grant.seconds_left) || 0) * 1000;
          entry.startsAt = Date.parse(grant.not_before) || 0;
          entry.updateConnect(grant);
          entry.tick();
        },
        // The ssh command, and for an active grant covering ssh the browser terminal (#/terminal),
        // for one covering rdp the remote desktop (#/rdp).
        // Nodes are kept across refreshes so a "Copied" label or focus survives.
        command: null,
        terminal: null,
        rdp: null,
        dash: h('span', { class: 'muted' }, '—'),
        updateConnect(grant) {
          if (grant.ssh_command) {
            if (entry.command) entry.command.setText(grant.ssh_command);
            else entry.command = copyableCode(grant.ssh_command, { codeClass: 'ssh-command' });
          }
          const covered = grant.state === 'active' && Array.isArray(grant.protocols) && grant.protocols.includes('ssh');
          if (covered && (!entry.terminal || entry.terminal.dataset.asset !== grant.asset)) {
            const asset = grant.asset;
            entry.terminal = h('button', { type: 'button', class: 'btn btn-small btn-primary', 'data-action': 'terminal',
              'data-asset': asset, title: `Open a terminal on ${asset} in this browser` }, 'Open terminal');
            entry.terminal.addEventListener('click', () => { location.hash = `#/terminal/${encodeURIComponent(asset)}`; });
          }
          const rdpCovered = grant.state === 'active' && Array.isArray(grant.protocols) && grant.protocols.includes('rdp');
          if (rdpCovered && (!entry.rdp || entry.rdp.dataset.asset !== grant.asset)) {
            const asset = grant.asset;
            entry.rdp = h('button', { type: 'button', class: 'btn btn-small btn-primary', 'data-action': 'rdp',
              'data-asset': asset, title: `Open the remote desktop of ${asset} in this browser` }, 'RDP');
            entry.rdp.addEventListener('click', () => { location.hash = `#/rdp/${encodeURIComponent(asset)}`; });
          }
          const parts = [grant.ssh_command ? entry.command : null, covered ? entry.terminal : null,
            rdpCovered ? entry.rdp : null].filter(Boolean);
          const wanted = parts.length ? parts : [entry.dash];
          const box = cells.connect.firstElementChild;
          const current = box ? [...box.children] : [];
          if (current.length !== wanted.length || current.some((node, i) => node !== wanted[i])) {
            replace(cells.connect, h('div', { class: 'connect-row' }, wanted));
          }
        },
        tick() {
          const g = entry.grant;
          const now = Date.now();
          let text = '—';
          let warn = false;
          // Before not_before the server's seconds_left is the whole window: not a countdown yet.
          if (g.state === 'active' && entry.startsAt > now) {
            text = `starts in ${fmtDuration((entry.startsAt - now) / 1000)}`;
          } else if (g.state === 'active') {
            const left = Math.max(0, Math.round((entry.deadline - now) / 1000));
            text = left > 0 ? fmtDuration(left) : 'ended';
            warn = left > 0 && left < WARN_SECONDS;
          }
          if (cells.left.textContent !== text) cells.left.textContent = text;
          cells.left.classList.toggle('warn-text', warn);
        },
      };
      return entry;
    },
  });
  body.append(placeholderRow(6, 'Loading…'));
  let loaded = false;
  const el = card('My access', {
    id: 'my-access',
    description: 'Your grants. Connect with the command shown; it works only inside the window.',
  }, tableEl);
  return {
    el,
    set(items) {
      if (!loaded) { body.replaceChildren(); loaded = true; }
      list.set(items);
    },
    tick() { list.each((entry) => entry.tick()); },
  };
}

function requestsCard(me) {
  const status = statusLine('requests-status');
  const { el: tableEl, body } = table(['#', 'Asset', 'Window', 'Reason / ticket', 'Requested by', 'State', ''],
    { id: 'requests-table', caption: 'My requests' });
  const list = new KeyedList(body, {
    key: (r) => r.id,
    empty: placeholderRow(7, 'No requests.'),
    create: () => {
      const cells = {
        id: h('td', { class: 'num' }),
        asset: h('td'),
        window: h('td', { class: 'nowrap' }),
        reason: h('td', { class: 'wrap-text' }),
        requester: h('td'),
        state: h('td'),
        actions: h('td', { class: 'actions' }),
      };
      const row = h('tr', {}, Object.values(cells));
      const cancel = h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'cancel' }, 'Cancel');
      let current = null;
      cancel.addEventListener('click', async () => {
        const result = await busy(cancel, () => post(`/api/v1/requests/${seg(current.id)}/cancel`, {}));
        if (result) {
          status.say(`Request #${result.id} cancelled.`);
          list.set([...list.entries.values()].map((e) => (e.request.id === result.id ? result : e.request)));
        }
      });
      const entry = {
        el: row,
        request: null,
        update(r) {
          current = r;
          entry.request = r;
          row.dataset.requestId = r.id;
          cancel.dataset.requestId = r.id;
          cells.id.textContent = r.id;
          replace(cells.asset, h('div', { class: 'strong nowrap' }, r.asset), h('div', { class: 'sub' }, fmtList(r.protocols)));
          cells.window.textContent = fmtWindow(r.window_start, r.window_end);
          cells.window.title = `${r.window_start} – ${r.window_end} (UTC)`;
          replace(cells.reason, h('div', {}, r.reason ?? ''), r.ticket ? h('div', { class: 'sub' }, r.ticket) : null);
          cells.requester.textContent = r.requester ?? '';
          replace(cells.state, badge(r.state), voteSummary(r));
          // POST /requests/{id}/cancel: the requester (or an admin, who has no vendor page).
          replace(cells.actions, r.state === 'pending' && r.requester === me ? cancel : null);
        },
      };
      return entry;
    },
  });
  body.append(placeholderRow(7, 'Loading…'));
  let loaded = false;
  const el = card('My requests', { id: 'my-requests', tools: status }, tableEl);
  return {
    el,
    set(items) {
      if (!loaded) { body.replaceChildren(); loaded = true; }
      list.set(items);
    },
  };
}

function voteSummary(r) {
  const votes = Array.isArray(r.votes) ? r.votes : [];
  if (r.state !== 'pending' || (!votes.length && !r.approvals_required)) return null;
  const approvals = votes.filter((v) => v.approve).length;
  const lines = votes.map((v) => `${v.approve ? 'approved' : 'denied'} by ${v.approver}${v.comment ? `: ${v.comment}` : ''}`);
  return h('div', { class: 'sub', title: lines.join('\n') || null },
    r.approvals_required ? `${approvals} of ${r.approvals_required} approvals` : `${votes.length} votes`);
}

function requestForm(context, onSubmitted) {
  const status = statusLine('request-status');
  const asset = h('select', { id: 'req-asset', name: 'asset', required: true },
    h('option', { value: '' }, 'Loading assets…'));
  const protocolBox = h('div', { class: 'checks', id: 'req-protocols', role: 'group', 'aria-labelledby': 'req-protocols-label' });
  const startNow = h('input', { type: 'radio', name: 'start-mode', id: 'req-start-now', value: 'now', checked: true });
  const startAt = h('input', { type: 'radio', name: 'start-mode', id: 'req-start-at', value: 'at' });
  const startTime = h('input', { type: 'datetime-local', id: 'req-start', name: 'start', disabled: true,
    'aria-label': 'Start time' });
  const duration = h('input', { type: 'number', id: 'req-duration', name: 'duration_minutes', min: 1, step: 1,
    value: '60', required: true });
  const reason = h('textarea', { id: 'req-reason', name: 'reason', rows: 3, required: true, maxlength: 2000,
    placeholder: 'What you will do, and why' });
  const ticket = h('input', { type: 'text', id: 'req-ticket', name: 'ticket', maxlength: 200,
    placeholder: 'e.g. CHG-1042', autocomplete: 'off' });
  const submit = h('button', { type: 'submit', id: 'req-submit', class: 'btn btn-primary' }, 'Request access');

  let assets = [];
  const renderProtocols = () => {
    const chosen = assets.find((a) => a.name === asset.value);
    const protocols = chosen?.protocols ?? [];
    replace(protocolBox, protocols.length
      ? protocols.map((p) => h('label', { class: 'check', for: `req-protocol-${p}` },
        h('input', { type: 'checkbox', id: `req-protocol-${p}`, name: 'protocols', value: p,
          checked: protocols.length === 1 }), p))
      : h('span', { class: 'muted' }, chosen ? 'This asset offers no protocols.' : 'Choose an asset first.'));
  };
  asset.addEventListener('change', renderProtocols);
  const syncStart = () => {
    startTime.disabled = !startAt.checked;
    startTime.required = startAt.checked;
    if (startAt.checked && !startTime.value) startTime.value = toLocalInput(new Date(Date.now() + 3600_000));
  };
  startNow.addEventListener('change', syncStart);
  startAt.addEventListener('change', syncStart);

  get('/api/v1/assets').then((list) => {
    if (!context.alive) return;
    assets = Array.isArray(list) ? list : [];
    replace(asset,
      h('option', { value: '' }, assets.length ? 'Choose an asset…' : 'No assets available'),
      assets.map((a) => h('option', { value: a.name },
        [a.name, [a.site, a.zone].filter(Boolean).join(' / ')].filter(Boolean).join(' — ') +
        (a.criticality ? ` (${a.criticality})` : ''))));
    renderProtocols();
  }).catch((error) => {
    replace(asset, h('option', { value: '' }, 'Assets could not be loaded'));
    status.say(error.message);
  });

  const form = h('form', { id: 'request-form', class: 'stack' },
    field('Asset', asset),
    h('div', { class: 'field' }, h('span', { class: 'label', id: 'req-protocols-label' }, 'Protocols'), protocolBox),
    h('fieldset', { class: 'field' },
      h('legend', { class: 'label' }, 'Start'),
      h('div', { class: 'inline-row' },
        h('label', { class: 'check', for: 'req-start-now' }, startNow, 'Now'),
        h('label', { class: 'check', for: 'req-start-at' }, startAt, 'At'),
        startTime)),
    field('Duration (minutes)', duration),
    field('Reason', reason),
    field('Ticket', ticket, { hint: 'Change or work-order number, if you have one.' }),
    h('div', { class: 'form-actions' }, submit, status));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const protocols = [...protocolBox.querySelectorAll('input[name="protocols"]:checked')].map((c) => c.value);
    if (!protocols.length) {
      status.say('Choose at least one protocol.');
      return;
    }
    let start = 'now';
    if (startAt.checked) {
      start = localInputToUtc(startTime.value);
      if (!start) {
        status.say('Enter a valid start time.');
        return;
      }
    }
    const body = {
      asset: asset.value,
      protocols,
      start,
      duration_minutes: Number.parseInt(duration.value, 10),
      reason: reason.value.trim(),
      ticket: ticket.value.trim(),
    };
    const created = await busy(submit, () => post('/api/v1/requests', body));
    if (!created) return;
    status.say(`Request #${created.id} for ${created.asset} submitted: ${created.state}.`);
    reason.value = '';
    ticket.value = '';
    onSubmitted();
  });

  return card('Request access', { id: 'request-access' }, form);
}

function sshKeysCard(context) {
  const status = statusLine('ssh-key-status');
  const list = h('ul', { class: 'key-list', id: 'ssh-key-list' }, h('li', { class: 'muted' }, 'Loading…'));
  const input = h('textarea', { id: 'ssh-key', name: 'key', rows: 3, required: true, spellcheck: 'false',
    placeholder: 'ssh-ed25519 AAAA… you@laptop', class: 'mono' });
  const submit = h('button', { type: 'submit', id: 'ssh-key-submit', class: 'btn' }, 'Add key');
  const form = h('form', { id: 'ssh-key-form', class: 'stack' },
    field('Public key', input, { hint: 'One OpenSSH public key line, as in ~/.ssh/id_ed25519.pub.' }),
    h('div', { class: 'form-actions' }, submit, status));

  async function load() {
    try {
      const keys = await get('/api/v1/me/ssh-keys');
      if (!context.alive) return;
      replace(list, (keys ?? []).length
        ? keys.map((k) => h('li', {}, h('code', { class: 'ssh-key' }, k.key)))
        : h('li', { class: 'muted' }, 'No keys yet. Add one to connect with ssh.'));
    } catch (error) {
      replace(list, h('li', { class: 'muted' }, `Keys could not be loaded: ${error.message}`));
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const key = input.value.trim().replace(/\s*\n\s*/g, ' ');
    if (!key) return;
    const done = await busy(submit, async () => { await post('/api/v1/me/ssh-keys', { key }); return true; });
    if (!done) return;
    input.value = '';
    status.say('Key added.');
    load();
  });

  // Extension point: no DELETE /me/ssh-keys in docs/api.md yet, so keys cannot be removed here.
  return { el: card('My SSH keys', { id: 'my-ssh-keys' }, list, form), load };
}
