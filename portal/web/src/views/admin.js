// #/admin: vendors, users, engineer groups, assets and endpoints, credentials (write-only), the
// policy files and the audit chain. Every action is one call of docs/api.md "Administration"; the
// server checks and audits it, the page shows what the server answered.
import { get, post, seg } from '../api.js';
import { h, replace } from '../dom.js';
import { badge, busy, card, field, placeholderRow, statusLine, table } from '../ui.js';
import { fmtList, fmtTime, isoTitle } from '../format.js';
import { chainView } from './auditor.js';

const ROLES = ['vendor', 'engineer', 'auditor', 'admin'];
const CRITICALITIES = ['low', 'medium', 'high', 'critical'];
// Default ports, filled in when a protocol is chosen (the field stays editable).
const PROTOCOL_PORTS = { ssh: 22, rdp: 3389, modbus: 502, s7: 102, dnp3: 20000, opcua: 4840, tcp: '' };
const CREDENTIAL_KINDS = [['password', 'Password'], ['private_key', 'SSH private key']];

export function renderAdmin(root, context) {
  // Vendors and groups feed the user and asset forms; each card reloads what it changed.
  const shared = new Shared();
  const vendors = vendorsCard(context, shared);
  const users = usersCard(context, shared);
  const groups = groupsCard(context, shared);
  const assets = assetsCard(context, shared);
  const credentials = credentialsCard(context);
  const policies = policiesCard(context);
  root.append(h('div', { class: 'page-stack' },
    vendors.el, users.el, groups.el, assets.el, credentials.el, policies.el, auditChainCard(context)));
  for (const section of [vendors, users, groups, assets, credentials, policies]) section.load();
}

/// The lists more than one card needs, with listeners.
class Shared {
  constructor() {
    this.vendors = [];
    this.groups = [];
    this.listeners = { vendors: [], groups: [] };
  }

  set(kind, items) {
    this[kind] = items;
    for (const fn of this.listeners[kind]) fn(items);
  }

  on(kind, fn) {
    this.listeners[kind].push(fn);
  }
}

// ---- shared pieces --------------------------------------------------------------------------

/// A table card whose rows come from GET `path`; `load()` fetches and renders again.
function listCard(context, { id, title, description, columns, path, row, empty, onItems, extra = [] }) {
  const status = statusLine(`${id}-status`);
  const { el: tableEl, body } = table(columns, { id: `${id}-table`, caption: title });
  body.append(placeholderRow(columns.length, 'Loading…'));
  const count = h('span', { class: 'sub', id: `${id}-count` });
  const self = { status, el: null, load: null };
  self.load = async () => {
    try {
      const items = (await get(path)) ?? [];
      if (!context.alive) return;
      count.textContent = `${items.length}`;
      replace(body, items.length ? items.map((item) => row(item, self)) : placeholderRow(columns.length, empty));
      onItems?.(items);
    } catch (error) {
      if (context.alive) replace(body, placeholderRow(columns.length, `Could not be loaded: ${error.message}`));
    }
  };
  self.el = card(title, { id, description, tools: h('span', { class: 'btn-row' }, status, count) }, tableEl, extra);
  return self;
}

/// A button that asks first: the question, a confirming button and Cancel replace it in place.
function confirmable(button, { question, confirmText, confirmAction, run }) {
  const holder = h('span', { class: 'btn-row' }, button);
  button.addEventListener('click', () => {
    const yes = h('button', { type: 'button', class: 'btn btn-small btn-danger', 'data-action': confirmAction,
      'data-name': button.dataset.name }, confirmText);
    const no = h('button', { type: 'button', class: 'btn btn-small btn-quiet', 'data-action': 'cancel' }, 'Cancel');
    const restore = () => { replace(holder, button); button.focus(); };
    no.addEventListener('click', restore);
    yes.addEventListener('click', async () => {
      const done = await busy(yes, async () => { await run(); return true; });
      if (!done) restore();
    });
    replace(holder, h('span', { class: 'confirm-inline', role: 'group' }, h('span', { class: 'sub' }, question), yes, no));
    yes.focus();
  });
  return holder;
}

/// Disable or enable `name` (vendors, users, assets: POST .../{name}/disable|enable).
function stateButton(kind, name, disabled, section, { confirmQuestion } = {}) {
  const action = disabled ? 'enable' : 'disable';
  const button = h('button', { type: 'button', class: ['btn', 'btn-small', !disabled && 'btn-danger-outline'],
    'data-action': action, 'data-name': name }, disabled ? 'Enable' : 'Disable');
  const run = async () => {
    await post(`/api/v1/admin/${kind}/${seg(name)}/${action}`, {});
    section.status.say(`${name} ${disabled ? 'enabled' : 'disabled'}.`);
    section.load();
  };
  if (!disabled && confirmQuestion) {
    return confirmable(button, { question: confirmQuestion, confirmText: 'Disable', confirmAction: 'confirm-disable', run });
  }
  button.addEventListener('click', () => busy(button, run));
  return button;
}

const stateBadge = (disabled) => badge(disabled ? 'disabled' : 'active', disabled ? 'muted' : 'ok');

const textInput = (id, props = {}) => h('input', { type: 'text', id, name: id, autocomplete: 'off', ...props });

/// "2027-06-30" from a date input as the end of that day in UTC, or null when empty.
const endOfDayUtc = (value) => (value ? `${value}T23:59:59Z` : null);

function checkboxes(idPrefix, values, name) {
  return values.map((v) => h('label', { class: 'check', for: `${idPrefix}-${v}` },
    h('input', { type: 'checkbox', id: `${idPrefix}-${v}`, name, value: v }), v));
}

const checked = (box) => [...box.querySelectorAll('input[type="checkbox"]:checked')].map((c) => c.value);

/// Runs `action` on submit with the button disabled; a refusal shows the server's message.
function submitForm(form, submit, action) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    await busy(submit, action);
  });
}

// ---- vendors --------------------------------------------------------------------------------

function vendorsCard(context, shared) {
  const name = textInput('vendor-name', { required: true, maxlength: 64, placeholder: 'acme' });
  const contact = textInput('vendor-contact', { maxlength: 200, placeholder: 'service@acme.example' });
  const contractEnd = h('input', { type: 'date', id: 'vendor-contract-end', name: 'contract_end' });
  const submit = h('button', { type: 'submit', id: 'vendor-submit', class: 'btn btn-primary' }, 'Add vendor');
  const form = h('form', { id: 'vendor-form', class: 'admin-form' },
    field('Name', name), field('Contact', contact),
    field('Contract end', contractEnd, { hint: 'Access ends with this day (UTC). Empty: no end.' }),
    h('div', { class: 'form-actions' }, submit));

  const section = listCard(context, {
    id: 'admin-vendors',
    title: 'Vendors',
    description: 'Contractor organisations. Disabling one revokes every grant of its users and signs them out.',
    columns: ['Name', 'Contact', 'Contract end', 'State', ''],
    path: '/api/v1/admin/vendors',
    empty: 'No vendors yet.',
    onItems: (items) => shared.set('vendors', items),
    row: (v, self) => h('tr', { dataset: { name: v.name } },
      h('td', { class: 'strong' }, v.name),
      h('td', {}, v.contact || '—'),
      h('td', { class: 'nowrap', title: isoTitle(v.contract_end) }, v.contract_end ? fmtTime(v.contract_end) : '—'),
      h('td', {}, stateBadge(v.disabled)),
      h('td', { class: 'actions' }, stateButton('vendors', v.name, v.disabled, self,
        { confirmQuestion: `Disable ${v.name}? Their grants are revoked.` }))),
    extra: [form],
  });

  submitForm(form, submit, async () => {
    const created = await post('/api/v1/admin/vendors', {
      name: name.value.trim(), contact: contact.value.trim(), contract_end: endOfDayUtc(contractEnd.value),
    });
    section.status.say(`Vendor ${created.name} added.`);
    form.reset();
    section.load();
  });
  return section;
}

// ---- users ----------------------------------------------------------------------------------

function usersCard(context, shared) {
  const username = textInput('user-username', { required: true, maxlength: 64, placeholder: 'alice' });
  const displayName = textInput('user-display-name', { maxlength: 200, placeholder: 'Alice Example' });
  const roleBox = h('div', { class: 'checks', id: 'user-roles', role: 'group', 'aria-labelledby': 'user-roles-label' },
    checkboxes('user-role', ROLES, 'roles'));
  const vendor = h('select', { id: 'user-vendor', name: 'vendor' }, h('option', { value: '' }, '— none —'));
  const groupBox = h('div', { class: 'checks', id: 'user-groups', role: 'group', 'aria-labelledby': 'user-groups-label' });
  const password = h('input', { type: 'password', id: 'user-password', name: 'password', required: true,
    minlength: 12, maxlength: 256, autocomplete: 'new-password' });
  const expires = h('input', { type: 'date', id: 'user-expires', name: 'expires_at' });
  const submit = h('button', { type: 'submit', id: 'user-submit', class: 'btn btn-primary' }, 'Add user');
  const form = h('form', { id: 'user-form', class: 'admin-form' },
    field('Username', username), field('Display name', displayName),
    h('div', { class: 'field' }, h('span', { class: 'label', id: 'user-roles-label' }, 'Roles'), roleBox),
    field('Vendor', vendor, { hint: 'Only for the role vendor.' }),
    h('div', { class: 'field' }, h('span', { class: 'label', id: 'user-groups-label' }, 'Engineer groups'), groupBox),
    field('Initial password', password, { hint: 'At least 12 characters. Not shown again.' }),
    field('Account expires', expires, { hint: 'Optional; the end of that day (UTC).' }),
    h('div', { class: 'form-actions' }, submit));

  shared.on('vendors', (vendors) => {
    const current = vendor.value;
    replace(vendor, h('option', { value: '' }, '— none —'), vendors.map((v) => h('option', { value: v.name }, v.name)));
    vendor.value = vendors.some((v) => v.name === current) ? current : '';
  });
  shared.on('groups', (groups) => {
    const chosen = new Set(checked(groupBox));
    replace(groupBox, groups.length ? checkboxes('user-group', groups.map((g) => g.name), 'groups')
      : h('span', { class: 'muted' }, 'No groups yet.'));
    for (const box of groupBox.querySelectorAll('input')) box.checked = chosen.has(box.value);
  });

  const section = listCard(context, {
    id: 'admin-users',
    title: 'Users',
    description: 'Disabling a user revokes their grants and signs them out. Resetting TOTP makes them enrol a new authenticator at the next sign-in.',
    columns: ['Username', 'Name', 'Roles', 'Vendor', 'Groups', 'Expires', 'State', 'TOTP', ''],
    path: '/api/v1/admin/users',
    empty: 'No users.',
    row: (u, self) => {
      const me = u.username === context.user.username;
      const resetTotp = h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'reset-totp',
        'data-name': u.username }, 'Reset TOTP');
      return h('tr', { dataset: { name: u.username } },
        h('td', { class: 'strong' }, u.username),
        h('td', {}, u.display_name || '—'),
        h('td', {}, fmtList(u.roles)),
        h('td', {}, u.vendor ?? '—'),
        h('td', {}, fmtList(u.groups)),
        h('td', { class: 'nowrap', title: isoTitle(u.expires_at) }, u.expires_at ? fmtTime(u.expires_at) : '—'),
        h('td', {}, stateBadge(u.disabled)),
        h('td', {}, badge(u.totp_enrolled ? 'enrolled' : 'not enrolled', u.totp_enrolled ? 'ok' : 'warn')),
        h('td', { class: 'actions' }, h('span', { class: 'btn-row' },
          confirmable(resetTotp, {
            question: `Reset TOTP of ${u.username}? They are signed out and must enrol again.`,
            confirmText: 'Reset TOTP',
            confirmAction: 'confirm-reset-totp',
            run: async () => {
              await post(`/api/v1/admin/users/${seg(u.username)}/reset-totp`, {});
              self.status.say(`TOTP of ${u.username} reset.`);
              self.load();
            },
          }),
          // The server refuses disabling your own account; the button is not offered either.
          me ? null : stateButton('users', u.username, u.disabled, self,
            { confirmQuestion: `Disable ${u.username}? Their grants are revoked.` }))));
    },
    extra: [form],
  });

  submitForm(form, submit, async () => {
    const body = {
      username: username.value.trim(),
      display_name: displayName.value.trim(),
      vendor: vendor.value || null,
      roles: checked(roleBox),
      groups: checked(groupBox),
      password: password.value,
      expires_at: endOfDayUtc(expires.value),
    };
    try {
      const created = await post('/api/v1/admin/users', body);
      section.status.say(`User ${created.username} added; they enrol TOTP at their first sign-in.`);
      form.reset();
      section.load();
    } finally {
      password.value = '';
    }
  });
  return section;
}

// ---- engineer groups ------------------------------------------------------------------------

function groupsCard(context, shared) {
  const name = textInput('group-name', { required: true, maxlength: 64, placeholder: 'line-3-controls' });
  const description = textInput('group-description', { maxlength: 500 });
  const submit = h('button', { type: 'submit', id: 'group-submit', class: 'btn btn-primary' }, 'Add group');
  const form = h('form', { id: 'group-form', class: 'admin-form' },
    field('Name', name), field('Description', description, { wide: true }),
    h('div', { class: 'form-actions' }, submit));

  const section = listCard(context, {
    id: 'admin-groups',
    title: 'Engineer groups',
    description: 'Groups own assets and approve access to them.',
    columns: ['Name', 'Description'],
    path: '/api/v1/admin/groups',
    empty: 'No groups yet.',
    onItems: (items) => shared.set('groups', items),
    row: (g) => h('tr', { dataset: { name: g.name } },
      h('td', { class: 'strong' }, g.name),
      h('td', { class: 'wrap-text' }, g.description || '—')),
    extra: [form],
  });

  submitForm(form, submit, async () => {
    const created = await post('/api/v1/admin/groups', { name: name.value.trim(), description: description.value.trim() });
    section.status.say(`Group ${created.name} added.`);
    form.reset();
    section.load();
  });
  return section;
}

// ---- assets and endpoints -------------------------------------------------------------------

function endpointText(e) {
  const where = `${e.protocol}://${e.account ? `${e.account}@` : ''}${e.host}:${e.port}`;
  return h('div', { class: 'endpoint' },
    h('span', { class: 'mono' }, where),
    e.pinned_key ? h('div', { class: 'sub mono pinned-key', title: e.pinned_key }, `pinned: ${e.pinned_key}`) : null,
    e.credential ? h('div', { class: 'sub' }, `credential: ${e.credential}`) : null);
}

function endpointRow(index, onRemove) {
  const id = (part) => `asset-ep-${index}-${part}`;
  const protocol = h('select', { id: id('protocol'), name: 'protocol', 'aria-label': 'Protocol' },
    Object.keys(PROTOCOL_PORTS).map((p) => h('option', { value: p }, p)));
  const host = textInput(id('host'), { maxlength: 253, placeholder: '10.20.0.17', 'aria-label': 'Host' });
  const port = h('input', { type: 'number', id: id('port'), name: 'port', min: 1, max: 65535, step: 1,
    value: String(PROTOCOL_PORTS.ssh), 'aria-label': 'Port' });
  const account = textInput(id('account'), { maxlength: 128, placeholder: 'account (ssh, rdp)', 'aria-label': 'Account' });
  const pinned = textInput(id('pinned-key'), { maxlength: 16384, class: 'mono', 'aria-label': 'Pinned key',
    placeholder: 'ssh-ed25519 AAAA… (host key line)' });
  let previous = protocol.value;
  protocol.addEventListener('change', () => {
    if (port.value === '' || port.value === String(PROTOCOL_PORTS[previous])) port.value = String(PROTOCOL_PORTS[protocol.value]);
    pinned.placeholder = protocol.value === 'rdp' ? 'certificate SHA-256 fingerprint'
      : protocol.value === 'ssh' ? 'ssh-ed25519 AAAA… (host key line)' : 'not used';
    pinned.disabled = !['ssh', 'rdp'].includes(protocol.value);
    previous = protocol.value;
  });
  const remove = h('button', { type: 'button', class: 'btn btn-small btn-quiet', 'data-action': 'remove-endpoint',
    'aria-label': 'Remove this endpoint' }, 'Remove');
  const el = h('div', { class: 'endpoint-row', dataset: { endpoint: String(index) } },
    protocol, host, port, account, pinned, remove);
  remove.addEventListener('click', () => onRemove(el));
  return {
    el,
    value: () => ({
      protocol: protocol.value,
      host: host.value.trim(),
      port: Number.parseInt(port.value, 10),
      account: account.value.trim(),
      pinned_key: pinned.disabled ? '' : pinned.value.trim(),
    }),
    blank: () => !host.value.trim() && !account.value.trim() && !pinned.value.trim(),
  };
}

function assetsCard(context, shared) {
  const name = textInput('asset-name', { required: true, maxlength: 64, placeholder: 'plc-17' });
  const site = textInput('asset-site', { maxlength: 200 });
  const zone = textInput('asset-zone', { maxlength: 200, placeholder: 'IEC 62443 zone' });
  const criticality = h('select', { id: 'asset-criticality', name: 'criticality' },
    CRITICALITIES.map((c) => h('option', { value: c, selected: c === 'medium' }, c)));
  const owner = h('select', { id: 'asset-owner-group', name: 'owner_group', required: true },
    h('option', { value: '' }, 'Loading groups…'));
  const tags = textInput('asset-tags', { placeholder: 'siemens, line-3' });
  const maxSessions = h('input', { type: 'number', id: 'asset-max-sessions', name: 'max_sessions', min: 1, max: 1000,
    step: 1, value: '1' });
  const endpointBox = h('div', { class: 'endpoint-rows', id: 'asset-endpoints' });
  const addEndpoint = h('button', { type: 'button', class: 'btn btn-small', id: 'asset-add-endpoint' }, 'Add endpoint');
  const submit = h('button', { type: 'submit', id: 'asset-submit', class: 'btn btn-primary' }, 'Add asset');

  let rows = [];
  let next = 0;
  const add = () => {
    const row = endpointRow(next, (el) => {
      rows = rows.filter((r) => r.el !== el);
      el.remove();
    });
    next += 1;
    rows.push(row);
    endpointBox.append(row.el);
  };
  const resetEndpoints = () => {
    rows = [];
    next = 0;
    endpointBox.replaceChildren();
    add();
  };
  addEndpoint.addEventListener('click', add);
  resetEndpoints();

  shared.on('groups', (groups) => {
    const current = owner.value;
    replace(owner, h('option', { value: '' }, groups.length ? 'Choose a group…' : 'Add a group first'),
      groups.map((g) => h('option', { value: g.name }, g.name)));
    owner.value = groups.some((g) => g.name === current) ? current : '';
  });

  const form = h('form', { id: 'asset-form', class: 'stack' },
    h('div', { class: 'admin-form' },
      field('Name', name), field('Site', site), field('Zone', zone), field('Criticality', criticality),
      field('Owner group', owner), field('Tags', tags, { hint: 'Comma-separated.' }),
      field('Max sessions', maxSessions)),
    h('fieldset', { class: 'field' },
      h('legend', { class: 'label' }, 'Endpoints (protocol, host, port, account, pinned key)'),
      endpointBox,
      h('div', {}, addEndpoint)),
    h('div', { class: 'form-actions' }, submit));

  const section = listCard(context, {
    id: 'admin-assets',
    title: 'Assets and endpoints',
    description: 'Every asset, disabled ones included. Vendors see only enabled assets.',
    columns: ['Name', 'Site / zone', 'Criticality', 'Owner group', 'Tags', 'Sessions', 'Endpoints', 'State', ''],
    path: '/api/v1/admin/assets',
    empty: 'No assets yet.',
    row: (a, self) => h('tr', { dataset: { name: a.name } },
      h('td', { class: 'strong' }, a.name),
      h('td', {}, [a.site, a.zone].filter(Boolean).join(' / ') || '—'),
      h('td', {}, badge(a.criticality, ['high', 'critical'].includes(a.criticality) ? 'warn' : 'neutral')),
      h('td', {}, a.owner_group),
      h('td', {}, fmtList(a.tags)),
      h('td', { class: 'num' }, a.max_sessions),
      h('td', { class: 'endpoints' }, (a.endpoints ?? []).length ? a.endpoints.map(endpointText) : '—'),
      h('td', {}, stateBadge(a.disabled)),
      h('td', { class: 'actions' }, stateButton('assets', a.name, a.disabled, self))),
    extra: [form],
  });

  submitForm(form, submit, async () => {
    const body = {
      name: name.value.trim(),
      site: site.value.trim(),
      zone: zone.value.trim(),
      criticality: criticality.value,
      owner_group: owner.value,
      tags: tags.value.split(',').map((t) => t.trim()).filter(Boolean),
      max_sessions: Number.parseInt(maxSessions.value, 10),
      endpoints: rows.filter((r) => !r.blank()).map((r) => r.value()),
    };
    const created = await post('/api/v1/admin/assets', body);
    section.status.say(`Asset ${created.name} added with ${created.endpoints.length} endpoint(s).`);
    form.reset();
    // reset() restores attributes; these defaults were set as properties.
    criticality.value = 'medium';
    maxSessions.value = '1';
    resetEndpoints();
    section.load();
  });
  return section;
}

// ---- credentials ----------------------------------------------------------------------------

function credentialsCard(context) {
  const name = textInput('credential-name', { required: true, maxlength: 128, placeholder: 'plc-17/maint' });
  const kind = h('select', { id: 'credential-kind', name: 'kind' },
    CREDENTIAL_KINDS.map(([value, label]) => h('option', { value }, label)));
  // Write-only: a password input (never shown), or a key file read in the browser, both cleared
  // after every submit.
  const value = h('input', { type: 'password', id: 'credential-value', name: 'value', autocomplete: 'new-password' });
  const keyFile = h('input', { type: 'file', id: 'credential-key-file', name: 'key_file' });
  const valueField = field('Password', value);
  const keyField = field('Private key file', keyFile, { hint: 'PEM or OpenSSH form; read here, sent once.' });
  keyField.hidden = true;
  const description = textInput('credential-description', { maxlength: 500 });
  const submit = h('button', { type: 'submit', id: 'credential-submit', class: 'btn btn-primary' }, 'Store');
  const form = h('form', { id: 'credential-form', class: 'admin-form' },
    field('Name', name), field('Kind', kind), valueField, keyField, field('Description', description),
    h('div', { class: 'form-actions' }, submit));
  kind.addEventListener('change', () => {
    const isKey = kind.value === 'private_key';
    valueField.hidden = isKey;
    keyField.hidden = !isKey;
  });

  const section = listCard(context, {
    id: 'admin-credentials',
    title: 'Credentials',
    description: 'Stored in the vault, write-only: a value can be replaced (a new version) but never read back here.',
    columns: ['Name', 'Kind', 'Version', 'Created', 'Updated'],
    path: '/api/v1/admin/credentials',
    empty: 'No credentials stored.',
    row: (c) => h('tr', { dataset: { name: c.name } },
      h('td', { class: 'strong mono' }, c.name),
      h('td', {}, c.kind === 'private_key' ? 'SSH private key' : c.kind),
      h('td', { class: 'num' }, c.version),
      h('td', { class: 'nowrap', title: isoTitle(c.created_at) }, fmtTime(c.created_at)),
      h('td', { class: 'nowrap', title: isoTitle(c.updated_at) }, fmtTime(c.updated_at))),
    extra: [form],
  });

  submitForm(form, submit, async () => {
    try {
      const secret = kind.value === 'private_key' ? await keyFile.files[0]?.text() ?? '' : value.value;
      const stored = await post('/api/v1/admin/credentials', {
        name: name.value.trim(), kind: kind.value, value: secret, description: description.value.trim(),
      });
      section.status.say(`${stored.name} stored (version ${stored.version}).`);
      name.value = '';
      description.value = '';
      section.load();
    } finally {
      value.value = '';
      keyFile.value = '';
    }
  });
  return section;
}

// ---- policies -------------------------------------------------------------------------------

function policiesCard(context) {
  const summary = h('div', { id: 'admin-policies-summary', role: 'status' }, h('span', { class: 'sub' }, 'Checking…'));
  const { el: tableEl, body } = table(['File', 'Rules in use', 'On disk now'], { id: 'admin-policies-table', caption: 'Policy files' });
  const again = h('button', { type: 'button', class: 'btn', id: 'admin-policies-check' }, 'Check again');
  const load = async () => {
    const answer = await busy(again, () => get('/api/v1/admin/policies'));
    if (!answer || !context.alive) return;
    replace(summary, answer.ok
      ? h('p', { class: 'sub' }, badge('ok'), ` All files load together. The broker uses ${answer.loaded_rules} rules loaded at start.`)
      : h('div', { class: 'notice notice-warn' }, 'A restart would fail: ', h('span', { class: 'mono wrap-text' }, answer.error ?? '')));
    const files = answer.files ?? [];
    replace(body, files.length ? files.map((f) => h('tr', { dataset: { path: f.path, ok: String(f.ok) } },
      h('td', { class: 'mono' }, f.path),
      h('td', { class: 'num' }, f.loaded_rules),
      h('td', {}, f.ok
        ? [badge('ok'), ` ${f.rules} rules`]
        : [badge('error', 'danger'), h('div', { class: 'mono wrap-text policy-error' }, f.error ?? '')])))
      : placeholderRow(3, 'No policy files configured.'));
  };
  again.addEventListener('click', load);
  const el = card('Policies', { id: 'admin-policies', tools: again,
    description: 'The policy files loaded at start, checked again as they are on disk now, so a broken edit shows before a restart.' },
  summary, tableEl);
  return { el, load };
}

// ---- audit chain ----------------------------------------------------------------------------

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
