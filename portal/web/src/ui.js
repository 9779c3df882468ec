// Shared page pieces: cards, tables, state badges, the error banner, inline reason forms.
import { h } from './dom.js';

// ---- error banner ---------------------------------------------------------------------------

let bannerEl = null;

/// The page-wide error banner (role="alert"), placed once by main.js.
export function errorBanner() {
  const text = h('span', { class: 'error-text', id: 'error-text' });
  bannerEl = h('div', { class: 'error-banner', id: 'error-banner', role: 'alert', hidden: true },
    text,
    h('button', { type: 'button', class: 'btn-link', 'aria-label': 'Dismiss error', onclick: clearError }, 'Dismiss'));
  return bannerEl;
}

/// Shows the server's `message` (or any Error's message) in the banner.
export function showError(error) {
  if (!bannerEl) return;
  const message = typeof error === 'string' ? error : error?.message || 'Something went wrong.';
  bannerEl.querySelector('.error-text').textContent = message;
  bannerEl.hidden = false;
}

export function clearError() {
  if (bannerEl) bannerEl.hidden = true;
}

/// Runs `action` with `button` disabled; errors go to the banner. Returns the action's result or
/// undefined on error.
export async function busy(button, action) {
  if (button) button.disabled = true;
  try {
    clearError();
    return await action();
  } catch (error) {
    showError(error);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

// ---- building blocks ------------------------------------------------------------------------

/// A white card with a heading; `tools` go to the right of the heading.
export function card(title, { id, description, tools, tone } = {}, ...body) {
  return h('section', { class: ['card', tone && `card-${tone}`], id, 'aria-labelledby': id && `${id}-title` },
    h('header', { class: 'card-head' },
      h('h2', { id: id && `${id}-title` }, title),
      tools ? h('div', { class: 'card-tools' }, tools) : null),
    description ? h('p', { class: 'card-desc' }, description) : null,
    body);
}

/// A zebra table. `columns`: header texts (or [text, class]). Returns {el, body}.
export function table(columns, { id, caption } = {}) {
  const body = h('tbody');
  const el = h('div', { class: 'table-wrap' },
    h('table', { class: 'data', id },
      caption ? h('caption', { class: 'visually-hidden' }, caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => {
        const [text, cls] = Array.isArray(c) ? c : [c, null];
        return h('th', { scope: 'col', class: cls }, text);
      }))),
      body));
  return { el, body };
}

/// The row shown in an empty or loading table.
export const placeholderRow = (colspan, text) => h('tr', { class: 'placeholder' }, h('td', { colspan }, text));

// Tones for the state names the API uses; unknown states are shown neutral, with their own name.
const TONES = {
  pending: 'warn', scheduled: 'info', approved: 'ok', active: 'ok', open: 'ok', ok: 'ok',
  success: 'ok', allow: 'ok', allowed: 'ok', granted: 'ok',
  suspended: 'warn', need_more: 'warn', 'need-more': 'warn', expiring: 'warn',
  denied: 'danger', deny: 'danger', revoked: 'danger', killed: 'danger', failure: 'danger',
  failed: 'danger', refused: 'danger', tampered: 'danger', invalid: 'danger',
  cancelled: 'muted', canceled: 'muted', expired: 'muted', ended: 'muted', closed: 'muted',
};

export function badge(state, tone) {
  const text = state == null || state === '' ? 'unknown' : String(state);
  return h('span', { class: ['badge', `badge-${tone ?? TONES[text.toLowerCase()] ?? 'neutral'}`] }, text);
}

/// A one-line status message (role="status") that clears itself after a while.
export function statusLine(id) {
  const el = h('p', { class: 'status-line', role: 'status', id });
  let timer = null;
  el.say = (text) => {
    el.textContent = text;
    clearTimeout(timer);
    timer = setTimeout(() => { el.textContent = ''; }, 8000);
  };
  return el;
}

/// A <code> with a Copy button next to it.
export function copyableCode(text, { codeClass = 'copyable' } = {}) {
  const code = h('code', { class: codeClass }, text);
  const button = h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'copy' }, 'Copy');
  button.addEventListener('click', async () => {
    const value = code.textContent;
    let copied = false;
    try {
      await navigator.clipboard.writeText(value);
      copied = true;
    } catch {
      // Clipboard API refused (permissions, old browser): select the text so Ctrl+C works.
      const range = document.createRange();
      range.selectNodeContents(code);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
    button.textContent = copied ? 'Copied' : 'Press Ctrl+C';
    setTimeout(() => { button.textContent = 'Copy'; }, 1500);
  });
  const wrap = h('span', { class: 'copy-wrap' }, code, button);
  wrap.setText = (value) => { if (code.textContent !== value) code.textContent = value; };
  return wrap;
}

/// A small inline form asking for a reason (kill, revoke, reinstate) instead of window.prompt.
/// `onSubmit(reason)` is awaited; the form closes itself when it resolves without throwing.
export function reasonForm({ label, placeholder, confirmText, action, danger = true, required = true, onSubmit, onClose }) {
  const input = h('input', { type: 'text', name: 'reason', required, maxlength: 500, autocomplete: 'off',
    'aria-label': label, placeholder: placeholder ?? label });
  const confirm = h('button', { type: 'submit', class: ['btn', 'btn-small', danger ? 'btn-danger' : 'btn-primary'],
    'data-action': action }, confirmText);
  const close = () => { form.remove(); onClose?.(); };
  const form = h('form', { class: 'inline-reason', 'data-form': action },
    input, confirm,
    h('button', { type: 'button', class: 'btn btn-small btn-quiet', onclick: close }, 'Cancel'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const reason = input.value.trim();
    if (required && !reason) {
      input.focus();
      return;
    }
    const done = await busy(confirm, async () => { await onSubmit(reason); return true; });
    if (done) close();
  });
  form.addEventListener('keydown', (event) => { if (event.key === 'Escape') close(); });
  queueMicrotask(() => input.focus());
  return form;
}

/// A labelled form field: <label for=id>text</label> + control.
export function field(labelText, control, { hint, wide } = {}) {
  return h('div', { class: ['field', wide && 'field-wide'] },
    h('label', { for: control.id }, labelText),
    control,
    hint ? h('small', { class: 'hint' }, hint) : null);
}

