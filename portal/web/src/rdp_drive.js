// The session's drive on the remote desktop page (docs/rdp.md "Drive", docs/api.md "Browser
// RDP"): where the policy allows one, the target sees a drive named Conduit; this panel lists its
// files, puts a file from the vendor's computer on it and saves a file from it. Where the policy
// allows the printer, the same panel lists what the remote desktop printed (to its printer
// "Conduit PDF") and saves it as PDF (docs/rdp.md "Printing"). Every file that crosses is
// recorded by the broker with its SHA-256; the page shows the hash it was told and, for files
// it saves, checks it against the bytes received.
import { h, replace } from './dom.js';
import { fmtBytes, fmtTime } from './format.js';

// The broker's limits (drive_folder.hpp, worker_protocol.hpp); the listing carries the real ones.
const DEFAULT_MAX_FILE = 256 * 1024 * 1024;
// File bytes go in binary messages of at most this size (the portal's limit per message is 256 KiB).
const CHUNK = 256 * 1024;
// The first byte of the binary message that carries a saved file (tiles use 0x82 and 0x83).
export const DRIVE_DATA = 0x90;

const sizeText = fmtBytes;

async function sha256Hex(bytes) {
  if (!globalThis.crypto?.subtle) return null; // only in secure contexts; the portal is HTTPS
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/// `sendJson(message)` and `sendBinary(bytes)` return false when the socket is not open.
export function drivePanel({ sendJson, sendBinary }) {
  const button = h('button', { type: 'button', class: 'btn btn-small btn-quiet', id: 'rdp-drive', hidden: true,
    'aria-expanded': 'false', 'aria-controls': 'rdp-drive-panel', title: 'Files on the drive the remote desktop sees' }, 'Drive');
  const fileInput = h('input', { type: 'file', id: 'rdp-drive-file', 'aria-label': 'File to put on the drive' });
  const putButton = h('button', { type: 'button', class: 'btn btn-small', id: 'rdp-drive-put' }, 'Put on drive');
  const refreshButton = h('button', { type: 'button', class: 'btn btn-small btn-quiet', id: 'rdp-drive-refresh' }, 'Refresh list');
  const status = h('span', { class: 'muted', id: 'rdp-drive-status', role: 'status' });
  const rows = h('tbody', { id: 'rdp-drive-files' });
  const table = h('table', { class: 'table rdp-drive-table' },
    h('thead', {}, h('tr', {}, h('th', {}, 'File'), h('th', {}, 'Size'), h('th', {}, 'Changed'), h('th', {}, ''))), rows);
  const driveSection = h('div', { id: 'rdp-drive-section', hidden: true },
    h('p', { class: 'muted' }, 'The remote desktop sees these files on the drive “Conduit” (\\\\tsclient\\Conduit on Windows). ',
      'Every file put there or saved from it is recorded with its SHA-256.'),
    h('div', { class: 'rdp-clipboard-row' }, fileInput, putButton, refreshButton),
    table);
  const printRows = h('tbody', { id: 'rdp-print-files' },
    h('tr', {}, h('td', { colspan: '4', class: 'muted' }, 'Nothing printed yet.')));
  const printSection = h('div', { id: 'rdp-print-section', hidden: true },
    h('p', { class: 'muted' }, 'What the remote desktop prints to the printer “Conduit PDF” arrives here as PDF. ',
      'Every document is recorded with its SHA-256.'),
    h('table', { class: 'table rdp-drive-table' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Printed'), h('th', {}, 'Size'), h('th', {}, 'Note'), h('th', {}, ''))), printRows));
  const panel = h('div', { class: 'rdp-drive', id: 'rdp-drive-panel', hidden: true },
    driveSection, printSection, h('div', { class: 'rdp-clipboard-row' }, status));

  let maxFile = DEFAULT_MAX_FILE;
  let driveOn = false;
  let printerOn = false;
  let printedAny = false;
  let busy = false;
  let pending = null; // the name of the file being put or fetched
  let incoming = null; // {name, size, sha256, bytes, received} of the file being saved

  // While a file goes either way the broker refuses other drive requests of this desktop:
  // the page does not offer them.
  const setBusy = (value) => {
    busy = value;
    putButton.disabled = value;
    refreshButton.disabled = value;
  };

  const showList = (files) => {
    replace(rows, files.length === 0
      ? h('tr', {}, h('td', { colspan: '4', class: 'muted' }, 'The drive is empty.'))
      : files.map((file) => h('tr', { dataset: { name: String(file.name) } },
        h('td', { class: 'mono' }, String(file.name)),
        h('td', {}, sizeText(Number(file.size) || 0)),
        h('td', {}, fmtTime(new Date(Number(file.modified) * 1000).toISOString(), { seconds: true, today: true })),
        h('td', {}, h('button', { type: 'button', class: 'btn btn-small btn-quiet', onclick: () => save(String(file.name)) }, 'Save')))));
  };

  const save = (name, kind = 'drive') => {
    if (busy) return;
    if (!sendJson({ type: kind === 'print' ? 'print_get' : 'drive_get', name })) {
      status.textContent = 'Not saved: the remote desktop is not connected.';
      return;
    }
    setBusy(true);
    pending = name;
    status.textContent = `Fetching ${name}…`;
  };

  const put = async () => {
    const file = fileInput.files?.[0];
    if (!file || busy) return;
    if (file.size > maxFile) {
      status.textContent = `Not sent: ${file.name} is ${sizeText(file.size)}, the limit is ${sizeText(maxFile)}.`;
      return;
    }
    setBusy(true);
    pending = file.name;
    status.textContent = `Sending ${file.name}…`;
    let bytes;
    try {
      bytes = new Uint8Array(await file.arrayBuffer());
    } catch (error) {
      status.textContent = `Not sent: ${file.name} cannot be read (${error.message}).`;
      setBusy(false);
      return;
    }
    if (!sendJson({ type: 'drive_put', name: file.name, size: bytes.length })) {
      status.textContent = 'Not sent: the remote desktop is not connected.';
      setBusy(false);
      return;
    }
    for (let at = 0; at < bytes.length; at += CHUNK) {
      if (!sendBinary(bytes.subarray(at, Math.min(bytes.length, at + CHUNK)))) {
        status.textContent = 'Not sent: the connection closed.';
        setBusy(false);
        return;
      }
    }
  };

  const finishSave = async (file) => {
    incoming = null;
    pending = null;
    setBusy(false);
    const own = await sha256Hex(file.bytes);
    const check = own == null ? '' : own === file.sha256 ? ' — checked' : ' — DOES NOT MATCH what the broker recorded';
    const link = h('a', { href: URL.createObjectURL(new Blob([file.bytes])), download: file.name, hidden: true });
    document.body.append(link);
    link.click();
    setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 60_000);
    status.textContent = `Saved ${file.name} (${sizeText(file.bytes.length)}, SHA-256 ${file.sha256}${check}).`;
    status.dataset.sha256 = own ?? '';
  };

  button.addEventListener('click', () => {
    panel.hidden = !panel.hidden;
    button.setAttribute('aria-expanded', String(!panel.hidden));
    if (!panel.hidden && driveOn) sendJson({ type: 'drive_list' });
  });
  refreshButton.addEventListener('click', () => sendJson({ type: 'drive_list' }));
  putButton.addEventListener('click', () => { put(); });

  const showButton = () => {
    button.hidden = !(driveOn || printerOn);
    button.textContent = driveOn ? (printerOn ? 'Files' : 'Drive') : 'Printed';
  };

  const addPrinted = (message) => {
    const name = String(message.name ?? 'print.pdf');
    if (!printedAny) replace(printRows);
    printedAny = true;
    printRows.append(h('tr', { dataset: { name } },
      h('td', { class: 'mono' }, name),
      h('td', {}, sizeText(Number(message.size) || 0)),
      h('td', { class: 'muted' }, String(message.note ?? '')),
      h('td', {}, h('button', { type: 'button', class: 'btn btn-small btn-quiet', onclick: () => save(name, 'print') }, 'Save'))));
    // The vendor printed on purpose: the panel opens to offer the document.
    panel.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    if (!busy) status.textContent = `The remote desktop printed ${name} (${sizeText(Number(message.size) || 0)}): save it below.`;
  };

  return {
    button,
    panel,
    /// The session has a drive (from the started message).
    enable(on) {
      driveOn = on;
      driveSection.hidden = !on;
      showButton();
      if (on) sendJson({ type: 'drive_list' });
    },
    /// What the session's target prints comes here (from the started message).
    enablePrinter(on) {
      printerOn = on;
      printSection.hidden = !on;
      showButton();
    },
    disable() {
      button.disabled = true;
      putButton.disabled = true;
      refreshButton.disabled = true;
    },
    /// A JSON message; true if it was the drive's.
    onMessage(message) {
      if (message?.type === 'drive') {
        if (Number(message.max_file_bytes) > 0) maxFile = Number(message.max_file_bytes);
        showList(Array.isArray(message.files) ? message.files : []);
      } else if (message?.type === 'drive_put_done') {
        status.textContent = `${message.name} is on the drive (${sizeText(Number(message.size) || 0)}, SHA-256 ${message.sha256}).`;
        fileInput.value = '';
        pending = null;
        setBusy(false);
      } else if (message?.type === 'drive_refused') {
        status.textContent = `Refused: ${String(message.message ?? 'refused')}.`;
        // A refusal of the listing leaves a file being put or fetched alone.
        if (message.name && message.name === pending) {
          incoming = null;
          pending = null;
          setBusy(false);
        }
      } else if (message?.type === 'printed') {
        addPrinted(message);
      } else if (message?.type === 'drive_file' || message?.type === 'print_file') {
        const size = Number(message.size) || 0;
        incoming = { name: String(message.name ?? 'file'), size, sha256: String(message.sha256 ?? ''),
          bytes: new Uint8Array(size), received: 0 };
        if (size === 0) finishSave(incoming);
        else status.textContent = `Fetching ${incoming.name}: 0 of ${sizeText(size)}…`;
      } else {
        return false;
      }
      return true;
    },
    /// A binary message starting with DRIVE_DATA: the next piece of the file announced by
    /// drive_file or print_file (the broker sends one piece per drive_more).
    onData(bytes) {
      const file = incoming;
      if (!file) return;
      if (bytes.length > file.size - file.received) {
        status.textContent = `Not saved: ${file.name} arrived longer than announced.`;
        incoming = null;
        pending = null;
        setBusy(false);
        return;
      }
      file.bytes.set(bytes, file.received);
      file.received += bytes.length;
      if (file.received < file.size) {
        status.textContent = `Fetching ${file.name}: ${sizeText(file.received)} of ${sizeText(file.size)}…`;
        sendJson({ type: 'drive_more' });
      } else {
        finishSave(file);
      }
    },
  };
}
