// Display formats. The API speaks RFC 3339 UTC; pages show the browser's local time, with the
// exact UTC value in the tooltip.

const pad = (n) => String(n).padStart(2, '0');

export const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';

function parse(iso) {
  if (!iso) return null;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? null : date;
}

const day = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
const clock = (d) => `${pad(d.getHours())}:${pad(d.getMinutes())}`;

/// "2026-11-26 10:00" ("10:00" with `today` when it is today), or "—" when absent; unparseable
/// text is shown as given.
export function fmtTime(iso, { seconds = false, today = false } = {}) {
  const d = parse(iso);
  if (!d) return iso ? String(iso) : '—';
  const time = `${clock(d)}${seconds ? `:${pad(d.getSeconds())}` : ''}`;
  return today && day(d) === day(new Date()) ? time : `${day(d)} ${time}`;
}

/// "2026-11-26 10:00 – 12:00" (the end date repeated only when it differs).
export function fmtWindow(startIso, endIso) {
  const a = parse(startIso);
  const b = parse(endIso);
  if (!a || !b) return `${fmtTime(startIso)} – ${fmtTime(endIso)}`;
  return `${day(a)} ${clock(a)} – ${day(a) === day(b) ? '' : `${day(b)} `}${clock(b)}`;
}

/// "1 h 05 min", "4 min 09 s", "12 s".
export function fmtDuration(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (hours > 0) return `${hours} h ${pad(minutes)} min`;
  if (minutes > 0) return `${minutes} min ${pad(rest)} s`;
  return `${rest} s`;
}

export function fmtBytes(n) {
  if (typeof n !== 'number') return '—';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export const fmtList = (items) => (Array.isArray(items) && items.length ? items.join(', ') : '—');

/// Literal text for a value of unknown shape (audit `details` may be text or an object).
export function fmtValue(value) {
  if (value == null || value === '') return '—';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/// The `start` of POST /requests from a datetime-local value: RFC 3339 UTC without milliseconds.
export function localInputToUtc(value) {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return null;
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/// datetime-local value for `date` in local time, minute precision.
export function toLocalInput(date) {
  return `${day(date)}T${clock(date)}`;
}

export const isoTitle = (iso) => (iso ? `${iso} (UTC)` : null);
