// #/auditor: find recorded sessions (replay, verify, download .cast) and read the audit log.
import { get, seg, withQuery } from '../api.js';
import { h, replace } from '../dom.js';
import { badge, busy, card, field, placeholderRow, table } from '../ui.js';
import { fmtBytes, fmtTime, fmtValue, isoTitle } from '../format.js';

// docs/audit.md: the categories an event can carry.
const AUDIT_CATEGORIES = ['admin', 'access', 'auth', 'session', 'credential', 'policy', 'audit'];

export function renderAuditor(root, context) {
  root.append(h('div', { class: 'page-stack' }, recordingsCard(context), auditCard(context)));
}

/// The verdict of GET /recordings/{id}/verify as a green or red line.
export function verdictView(result) {
  const ok = result.ok === true;
  const parts = [];
  if (result.records != null) parts.push(`${fmtValue(result.records)} records`);
  if (result.anchored != null) parts.push(result.anchored ? 'anchored in the audit chain' : 'not anchored in the audit chain');
  const messages = Array.isArray(result.messages) ? result.messages : (result.messages != null ? [result.messages] : []);
  return h('div', { class: ['verdict', ok ? 'verdict-ok' : 'verdict-bad'], 'data-ok': String(ok),
    'data-verdict': fmtValue(result.verdict) },
    h('span', { class: 'verdict-name' },
      h('span', { class: 'verdict-mark', 'aria-hidden': 'true' }, ok ? '✓ ' : '✕ '),
      `${ok ? 'Verified' : 'Not verified'}: ${fmtValue(result.verdict)}`),
    parts.length ? h('span', { class: 'verdict-facts' }, parts.join(' · ')) : null,
    result.detail ? h('span', { class: 'verdict-detail' }, fmtValue(result.detail)) : null,
    result.anchor ? h('span', { class: 'verdict-detail' }, fmtValue(result.anchor)) : null,
    messages.length && typeof result.messages !== 'number'
      ? h('span', { class: 'verdict-detail' }, messages.map(fmtValue).join('; ')) : null);
}

function recordingsCard(context) {
  const q = h('input', { type: 'search', id: 'rec-q', name: 'q', placeholder: 'Text in the session', autocomplete: 'off' });
  const user = h('input', { type: 'text', id: 'rec-user', name: 'user', autocomplete: 'off' });
  const asset = h('input', { type: 'text', id: 'rec-asset', name: 'asset', autocomplete: 'off' });
  const vendor = h('input', { type: 'text', id: 'rec-vendor', name: 'vendor', autocomplete: 'off' });
  const from = h('input', { type: 'date', id: 'rec-from', name: 'from' });
  const to = h('input', { type: 'date', id: 'rec-to', name: 'to' });
  const submit = h('button', { type: 'submit', id: 'rec-search', class: 'btn btn-primary' }, 'Search');
  const count = h('span', { class: 'sub', id: 'rec-count', role: 'status' });
  const form = h('form', { id: 'recordings-form', class: 'filters' },
    field('Search text', q, { wide: true }), field('User', user), field('Vendor', vendor),
    field('Asset', asset), field('From (UTC)', from), field('Until (UTC)', to),
    h('div', { class: 'filters-actions' }, submit));
  const { el: tableEl, body } = table(['Session', 'User', 'Asset', 'Started', 'Ended', 'Size', 'Verification', ''],
    { id: 'recordings-table', caption: 'Recorded sessions' });

  function row(rec) {
    const id = rec.session_id;
    const verdictCell = h('td', { class: 'verdict-cell' });
    const verify = h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'verify', 'data-session-id': id }, 'Verify');
    verify.addEventListener('click', async () => {
      const result = await busy(verify, () => get(`/api/v1/recordings/${seg(id)}/verify`));
      if (result) replace(verdictCell, verdictView(result));
    });
    return h('tr', { dataset: { sessionId: id } },
      h('td', { class: 'mono nowrap' }, id,
        // Its text went only partly into the search index (the broker stopped while indexing):
        // a text search may miss this session until `conduit recording reindex` completes it.
        rec.text_indexed === false
          ? [' ', h('span', { class: 'badge badge-warn', 'data-flag': 'text-index-incomplete',
            title: `Search may miss this session's text: conduit recording reindex ${id}` },
          'search index incomplete')]
          : null),
      h('td', {}, rec.user),
      h('td', { class: 'nowrap' }, rec.asset),
      h('td', { class: 'nowrap', title: isoTitle(rec.started_at) }, fmtTime(rec.started_at, { seconds: true })),
      h('td', { class: 'nowrap', title: isoTitle(rec.ended_at) }, rec.ended_at ? fmtTime(rec.ended_at, { seconds: true }) : 'open'),
      h('td', { class: 'num nowrap', title: 'to the asset / to the vendor' },
        rec.bytes_to_target == null ? '—' : `${fmtBytes(rec.bytes_to_target)} / ${fmtBytes(rec.bytes_to_vendor)}`),
      verdictCell,
      h('td', { class: 'actions' }, h('span', { class: 'btn-row' },
        h('a', { class: 'btn btn-small', href: `#/replay/${seg(id)}`, 'data-action': 'replay', 'data-session-id': id }, 'Replay'),
        verify,
        h('a', { class: 'btn btn-small btn-quiet', href: `/api/v1/recordings/${seg(id)}/cast`,
          download: `${id}.cast`, 'data-action': 'download', 'data-session-id': id }, 'Download .cast'),
        h('a', { class: 'btn btn-small btn-quiet', href: `/api/v1/recordings/${seg(id)}/export?format=jsonl`,
          download: `${id}.jsonl`, 'data-action': 'download-jsonl', 'data-session-id': id }, '.jsonl'))));
  }

  async function search() {
    const list = await busy(submit, () => get(withQuery('/api/v1/recordings', {
      q: q.value, user: user.value, vendor: vendor.value, asset: asset.value,
      // Whole days in UTC: from the start of the first to the end of the last.
      from: from.value ? `${from.value}T00:00:00Z` : '',
      to: to.value ? new Date(Date.parse(`${to.value}T00:00:00Z`) + 86400000).toISOString().replace(/\.\d+Z$/, 'Z') : '',
    })));
    if (!list || !context.alive) return;
    replace(body, list.length ? list.map(row) : placeholderRow(8, 'No recordings match.'));
    count.textContent = `${list.length} session${list.length === 1 ? '' : 's'}`;
  }
  form.addEventListener('submit', (event) => { event.preventDefault(); search(); });
  body.append(placeholderRow(8, 'Loading…'));
  search();

  return card('Sessions', { id: 'recordings', tools: count,
    description: 'Recorded sessions. Verify checks the recording’s signature and its anchor in the audit chain.' },
  form, tableEl);
}

function auditCard(context) {
  const category = h('select', { id: 'audit-category', name: 'category' },
    h('option', { value: '' }, 'Any'), AUDIT_CATEGORIES.map((c) => h('option', { value: c }, c)));
  const actor = h('input', { type: 'text', id: 'audit-actor', name: 'actor', autocomplete: 'off' });
  const limit = h('select', { id: 'audit-limit', name: 'limit' },
    ['50', '100', '500', '1000'].map((n) => h('option', { value: n, selected: n === '100' }, n)));
  const submit = h('button', { type: 'submit', id: 'audit-search', class: 'btn btn-primary' }, 'Show');
  const form = h('form', { id: 'audit-form', class: 'filters' },
    field('Category', category), field('Actor', actor), field('Newest', limit),
    h('div', { class: 'filters-actions' }, submit));
  const chainResult = h('div', { id: 'audit-verify-result', class: 'chain-result', role: 'status' });
  const verifyChain = h('button', { type: 'button', id: 'audit-verify', class: 'btn' }, 'Verify chain');
  verifyChain.addEventListener('click', async () => {
    const result = await busy(verifyChain, () => get('/api/v1/audit/verify'));
    if (result) replace(chainResult, chainView(result));
  });
  const { el: tableEl, body } = table(['#', 'Time', 'Actor', 'Source', 'Category', 'Type', 'Target', 'Outcome', 'Details'],
    { id: 'audit-table', caption: 'Audit log' });

  async function load() {
    const list = await busy(submit, () => get(withQuery('/api/v1/audit',
      { category: category.value, actor: actor.value, limit: limit.value })));
    if (!list || !context.alive) return;
    replace(body, list.length ? list.map((e) => h('tr', { dataset: { eventId: e.id ?? e.seq ?? '' } },
      h('td', { class: 'num' }, fmtValue(e.id ?? e.seq)),
      h('td', { class: 'nowrap', title: isoTitle(e.time) }, fmtTime(e.time, { seconds: true })),
      h('td', { class: 'nowrap' }, fmtValue(e.actor)),
      h('td', { class: 'mono nowrap' }, fmtValue(e.source)),
      h('td', {}, fmtValue(e.category)),
      h('td', { class: 'mono nowrap' }, fmtValue(e.type)),
      h('td', { class: 'mono nowrap' }, fmtValue(e.target)),
      h('td', {}, badge(e.outcome)),
      h('td', { class: 'details' }, h('code', {}, fmtValue(e.details)))))
      : placeholderRow(9, 'No events match.'));
  }
  form.addEventListener('submit', (event) => { event.preventDefault(); load(); });
  body.append(placeholderRow(9, 'Loading…'));
  load();

  const exportLink = h('a', { class: 'btn', id: 'audit-export', href: '/api/v1/audit/export',
    download: 'audit.jsonl' }, 'Export (JSON lines)');
  return card('Audit log', { id: 'audit-log', tools: h('div', { class: 'btn-row' }, chainResult, verifyChain, exportLink),
    description: 'Every state change and security event, newest first, in a hash chain.' }, form, tableEl);
}

/// The answer of GET /audit/verify.
export function chainView(result) {
  const ok = result.ok === true;
  const events = result.events != null ? ` · ${fmtValue(result.events)} events` : '';
  return h('span', { class: ['verdict', 'verdict-inline', ok ? 'verdict-ok' : 'verdict-bad'], 'data-ok': String(ok),
    title: result.message ? fmtValue(result.message) : null },
    h('span', { class: 'verdict-name' },
      h('span', { class: 'verdict-mark', 'aria-hidden': 'true' }, ok ? '✓ ' : '✕ '),
      ok ? 'Chain intact' : 'Chain broken'),
    h('span', { class: 'verdict-facts' }, events),
    // A broken chain's message names the first bad event: always visible.
    !ok && result.message ? h('span', { class: 'verdict-detail' }, fmtValue(result.message)) : null);
}
