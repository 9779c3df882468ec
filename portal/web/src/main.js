// Conduit portal: boot, hash routing, the top bar. The server serves only /, /index.html and
// /assets/*, so every page lives behind a hash route (#/vendor, #/replay/<session_id>, ...).
import './styles.css';
import { get, post, setCsrf, onUnauthenticated } from './api.js';
import { h, replace } from './dom.js';
import { errorBanner, showError, clearError } from './ui.js';
import { timeZone } from './format.js';
import { renderLogin } from './views/login.js';
import { renderVendor } from './views/vendor.js';
import { renderEngineer } from './views/engineer.js';
import { renderAuditor } from './views/auditor.js';
import { renderAdmin } from './views/admin.js';
import { renderReplay } from './views/replay.js';
import { renderTerminal } from './views/terminal.js';
import { renderRdp } from './views/rdp.js';
import { renderLive } from './views/live.js';

// One page per role, in the order used to pick the landing page after sign-in.
const ROLE_PAGES = [
  { route: 'vendor', role: 'vendor', label: 'Vendor', render: renderVendor },
  { route: 'engineer', role: 'engineer', label: 'Engineer', render: renderEngineer },
  { route: 'auditor', role: 'auditor', label: 'Auditor', render: renderAuditor },
  { route: 'admin', role: 'admin', label: 'Admin', render: renderAdmin },
];

// Pages without a tab of their own; `roles`: any of them allows the page.
const OTHER_PAGES = [
  // GET /recordings/{id}/cast and /verify: auditor, admin.
  { route: 'replay', roles: ['auditor', 'admin'], render: renderReplay, tab: 'auditor' },
  // #/terminal/<asset>: WebSocket /terminal, vendors with a grant covering ssh.
  { route: 'terminal', roles: ['vendor'], render: renderTerminal, tab: 'vendor' },
  // #/rdp/<asset>: WebSocket /rdp, vendors with a grant covering rdp.
  { route: 'rdp', roles: ['vendor'], render: renderRdp, tab: 'vendor' },
  // #/live/<session_id>: WebSocket /sessions/{id}/live, engineers of the owner group and admins.
  { route: 'live', roles: ['engineer', 'admin'], render: renderLive, tab: 'engineer' },
];

const state = { user: null, context: null, afterLogin: null, notice: null };

const topbar = h('header', { class: 'topbar' });
const view = h('main', { class: 'view', id: 'view' });
const app = document.getElementById('app');
replace(app,
  topbar,
  errorBanner(),
  view,
  h('footer', { class: 'footer' }, timeZone === 'UTC' || timeZone === 'Etc/UTC'
    ? 'Times are shown in UTC.'
    : `Times are shown in ${timeZone}; hover a time for UTC.`));

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  const route = parts.shift() || '';
  let arg = null;
  if (parts.length) {
    try {
      arg = decodeURIComponent(parts.join('/'));
    } catch {
      arg = null;
    }
  }
  return { route, arg };
}

const hasRole = (role) => Boolean(state.user?.roles?.includes(role));
const allowedPages = () => ROLE_PAGES.filter((page) => hasRole(page.role));
const landingRoute = () => allowedPages()[0]?.route ?? null;

function go(route) {
  const hash = `#/${route}`;
  if (location.hash === hash) render();
  else location.hash = hash;
}

function renderTopbar(activeTab) {
  const brand = h('a', { class: 'brand', href: state.user ? `#/${landingRoute() ?? 'login'}` : '#/login' },
    h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), 'Conduit');
  if (!state.user) {
    replace(topbar, brand);
    return;
  }
  const user = state.user;
  const tabs = h('nav', { class: 'tabs', 'aria-label': 'Roles' },
    allowedPages().map((page) => h('a', {
      class: ['tab', page.route === activeTab && 'tab-active'],
      href: `#/${page.route}`,
      id: `tab-${page.route}`,
      'aria-current': page.route === activeTab ? 'page' : null,
    }, page.label)));
  const who = h('div', { class: 'who' },
    h('span', { class: 'who-name', id: 'current-user', title: user.username },
      user.display_name || user.username),
    user.display_name && user.display_name !== user.username ? h('span', { class: 'who-sub' }, user.username) : null,
    user.vendor ? h('span', { class: 'who-sub' }, user.vendor) : null);
  const signOut = h('button', { type: 'button', class: 'btn btn-topbar', id: 'logout' }, 'Sign out');
  signOut.addEventListener('click', async () => {
    signOut.disabled = true;
    try {
      await post('/api/v1/logout', {}, { expect401: true });
    } catch (error) {
      // The session is gone either way; the server ends it, we forget it.
      if (error.status !== 401) state.notice = error.message;
    }
    signedOut(null);
  });
  replace(topbar, brand, tabs, h('div', { class: 'topbar-right' }, who, signOut));
}

function signedIn(user, csrf) {
  state.user = user;
  setCsrf(csrf);
  const target = state.afterLogin;
  state.afterLogin = null;
  go(target && isAllowed(target.route) ? target.route + (target.arg ? `/${encodeURIComponent(target.arg)}` : '') : landingRoute() ?? 'none');
}

function signedOut(notice) {
  state.user = null;
  setCsrf(null);
  if (notice) {
    // Expired, not signed out: come back to the same page after signing in again.
    state.notice = notice;
    const { route, arg } = parseHash();
    if (route && route !== 'login') state.afterLogin = { route, arg };
  }
  go('login');
}

function isAllowed(route) {
  const rolePage = ROLE_PAGES.find((page) => page.route === route);
  if (rolePage) return hasRole(rolePage.role);
  const other = OTHER_PAGES.find((page) => page.route === route);
  return Boolean(other && other.roles.some(hasRole));
}

function mount(renderView, activeTab, arg) {
  renderTopbar(activeTab);
  const cleanups = [];
  const context = {
    alive: true,
    user: state.user,
    arg,
    onCleanup: (fn) => cleanups.push(fn),
    /// Runs `task` now and every `ms`; never two at once; errors go to the banner. Returns a
    /// function that runs it again now (after an action).
    every(ms, task) {
      let running = false;
      const tick = async () => {
        if (running || !context.alive) return;
        running = true;
        try {
          await task();
        } catch (error) {
          if (context.alive) showError(error);
        } finally {
          running = false;
        }
      };
      const timer = setInterval(tick, ms);
      cleanups.push(() => clearInterval(timer));
      tick();
      return tick;
    },
    dispose() {
      context.alive = false;
      cleanups.forEach((fn) => fn());
    },
  };
  state.context = context;
  view.replaceChildren();
  renderView(view, context, { signedIn, go });
}

function render() {
  state.context?.dispose();
  state.context = null;
  clearError();
  const { route, arg } = parseHash();

  if (!state.user) {
    if (route !== 'login') {
      if (route) state.afterLogin = { route, arg };
      location.replace('#/login');
      return;
    }
    mount(renderLogin, null, null);
  } else if (route === 'login' || route === '' || !isAllowed(route)) {
    const landing = landingRoute();
    if (!landing) {
      mount((root) => root.append(h('section', { class: 'card' },
        h('h2', {}, 'No pages for your roles'),
        h('p', {}, 'Your account has no role with a portal page. Ask an administrator.'))), null, null);
    } else {
      if (route && route !== 'login' && route !== landing) {
        state.notice = `Your roles do not include the page “${route}”.`;
      }
      location.replace(`#/${landing}`);
      return;
    }
  } else {
    const rolePage = ROLE_PAGES.find((page) => page.route === route);
    const page = rolePage ?? OTHER_PAGES.find((p) => p.route === route);
    mount(page.render, rolePage ? route : page.tab, arg);
  }
  if (state.notice) {
    showError(state.notice);
    state.notice = null;
  }
}

onUnauthenticated(() => {
  if (state.user) signedOut('Your session has ended. Sign in again.');
  else if (parseHash().route !== 'login') go('login');
});

window.addEventListener('hashchange', render);

async function boot() {
  try {
    const me = await get('/api/v1/me', { expect401: true });
    state.user = me.user;
    setCsrf(me.csrf);
  } catch (error) {
    if (error.status !== 401) state.notice = error.message;
  }
  render();
}

boot();
