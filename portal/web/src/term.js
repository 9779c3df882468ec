// xterm.js for the browser terminal (#/terminal) and the live view (#/live), loaded on demand so the
// other pages never download it. Terminal output (user-controlled bytes) reaches the page only
// through xterm, never as HTML.
//
// CSP: xterm's DOM renderer adds <style> elements and style attributes, so the portal's style-src
// allows 'unsafe-inline'; scripts stay 'self' only (xterm needs no eval).

const THEME = {
  background: '#0f172a',
  foreground: '#e2e8f0',
  cursor: '#93c5fd',
  cursorAccent: '#0f172a',
  selectionBackground: '#334e7a',
  black: '#1e293b',
  red: '#f87171',
  green: '#4ade80',
  yellow: '#facc15',
  blue: '#60a5fa',
  magenta: '#c084fc',
  cyan: '#22d3ee',
  white: '#cbd5e1',
  brightBlack: '#64748b',
  brightRed: '#fca5a5',
  brightGreen: '#86efac',
  brightYellow: '#fde047',
  brightBlue: '#93c5fd',
  brightMagenta: '#d8b4fe',
  brightCyan: '#67e8f9',
  brightWhite: '#f8fafc',
};

const FONT = 'ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", "DejaVu Sans Mono", monospace';

/// Opens an xterm in `box` (an element with a definite height and no padding), sized to fill it and
/// refitted whenever it changes size. Returns `{term, holdSize}` or null when the page went away
/// while loading; `holdSize()` stops the refitting (the size is then set by the caller). The
/// terminal is disposed with the page.
export async function mountTerminal(box, context, { readOnly = false } = {}) {
  const [{ Terminal }, { FitAddon }] = await Promise.all([
    import('@xterm/xterm'),
    import('@xterm/addon-fit'),
    import('@xterm/xterm/css/xterm.css'),
  ]);
  if (!context.alive) return null;

  const term = new Terminal({
    disableStdin: readOnly,
    cursorBlink: !readOnly,
    cursorInactiveStyle: 'outline',
    fontFamily: FONT,
    fontSize: 13,
    scrollback: 5000,
    theme: THEME,
    // OSC 8 hyperlinks come from the remote side: never navigate anywhere from terminal output.
    linkHandler: { activate() {} },
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(box);

  let fitting = true;
  const refit = () => {
    if (!fitting || !context.alive) return;
    try {
      fit.fit();
    } catch {
      // Not laid out yet (hidden or zero-sized): the next resize fits.
    }
  };
  refit();
  let frame = 0;
  const observer = new ResizeObserver(() => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(refit);
  });
  observer.observe(box);
  context.onCleanup(() => {
    observer.disconnect();
    cancelAnimationFrame(frame);
    term.dispose();
  });
  return { term, holdSize() { fitting = false; } };
}

/// Text for a WebSocket that closed without a {"type":"closed"} message.
export function describeClose(event, opened) {
  if (event.reason) return event.reason;
  if (!opened) return 'the portal refused the connection (no access, or the session is not open)';
  if (event.code === 1000) return 'the connection was closed';
  if (event.code === 1001) return 'the portal went away';
  if (event.code === 1008) return 'refused by policy';
  if (event.code === 1006) return 'the connection was lost';
  return `the connection was closed (code ${event.code})`;
}

/// A text frame as `{type, ...}`, or null for anything that is not a JSON object.
export function parseMessage(text) {
  try {
    const message = JSON.parse(text);
    return message && typeof message === 'object' && typeof message.type === 'string' ? message : null;
  } catch {
    return null;
  }
}
