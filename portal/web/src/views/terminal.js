// #/terminal/<grant_id>: the browser terminal.
//
// docs/api.md defines no WebSocket endpoint yet, so this page only says so. When the endpoint
// exists: import { Terminal } from '@xterm/xterm' and '@xterm/xterm/css/xterm.css' here (lazily, as
// replay.js does with the player), open the socket on the same origin and pipe it both ways.
// Note for that step: xterm.js's DOM renderer adds <style> elements, which the portal's CSP
// (style-src 'self') refuses; use a renderer or a CSP that allows it before shipping.
import { h } from '../dom.js';
import { card } from '../ui.js';

export function renderTerminal(root) {
  root.append(card('Browser terminal', { id: 'terminal' },
    h('p', { class: 'notice', id: 'terminal-status' }, 'browser terminal: coming with the WebSocket endpoint'),
    h('p', {}, 'Until then, connect with the ssh command shown under ', h('a', { href: '#/vendor' }, 'My access'), '.')));
}
