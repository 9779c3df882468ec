// #/admin: read-only for now: the assets and the audit chain's state.
//
// Extension point: docs/api.md has no admin CRUD endpoints yet (users, vendors, assets, policies).
// When it does, add a section function per object below (one card each, built like assetsCard) and
// list it in SECTIONS; the page renders them in that order. Do not add forms for endpoints that the
// contract does not define.
import { get } from '../api.js';
import { h, replace } from '../dom.js';
import { badge, busy, card, placeholderRow, table } from '../ui.js';
import { fmtList } from '../format.js';
import { chainView } from './auditor.js';

const SECTIONS = [auditChainCard, assetsCard];

export function renderAdmin(root, context) {
  root.append(h('div', { class: 'page-stack' }, SECTIONS.map((section) => section(context))));
}

function assetsCard(context) {
  const { el: tableEl, body } = table(['Name', 'Site', 'Zone', 'Criticality', 'Owner group', 'Protocols'],
    { id: 'assets-table', caption: 'Assets' });
  body.append(placeholderRow(6, 'Loading…'));
  const count = h('span', { class: 'sub', id: 'assets-count' });
  get('/api/v1/assets').then((assets) => {
    if (!context.alive) return;
    const list = assets ?? [];
    count.textContent = `${list.length} enabled`;
    replace(body, list.length ? list.map((a) => h('tr', { dataset: { asset: a.name } },
      h('td', { class: 'strong' }, a.name),
      h('td', {}, a.site ?? '—'),
      h('td', {}, a.zone ?? '—'),
      h('td', {}, a.criticality ? badge(a.criticality, criticalityTone(a.criticality)) : '—'),
      h('td', {}, a.owner_group ?? '—'),
      h('td', {}, fmtList(a.protocols))))
      : placeholderRow(6, 'No enabled assets.'));
  }).catch((error) => {
    if (context.alive) replace(body, placeholderRow(6, `Assets could not be loaded: ${error.message}`));
  });
  return card('Assets', { id: 'admin-assets', tools: count,
    description: 'Enabled assets, as vendors see them when requesting access.' }, tableEl);
}

function criticalityTone(value) {
  const v = String(value).toLowerCase();
  if (['high', 'critical', 'safety'].includes(v)) return 'warn';
  return 'neutral';
}

function auditChainCard(context) {
  const result = h('div', { id: 'admin-chain-result', class: 'chain-result', role: 'status' },
    h('span', { class: 'sub' }, 'Checking…'));
  const again = h('button', { type: 'button', class: 'btn', id: 'admin-chain-verify' }, 'Verify again');
  const check = async () => {
    const answer = await busy(again, () => get('/api/v1/audit/verify'));
    if (context.alive) replace(result, answer ? chainView(answer) : h('span', { class: 'sub' }, 'Not checked.'));
  };
  again.addEventListener('click', check);
  check();
  return card('Audit chain', { id: 'admin-audit-chain', tools: again,
    description: 'The hash chain over every audit event: broken means an event was removed or edited.' }, result);
}
