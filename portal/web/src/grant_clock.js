// The "Time left" of the grant a session page runs under (the browser terminal, the remote
// desktop): the vendor's grant covering `protocol` to the asset, counting down every second
// between refreshes of GET /grants. Under 5 minutes left it turns amber, as on the vendor page.
import { replace } from './dom.js';
import { badge } from './ui.js';
import { fmtDuration, fmtWindow } from './format.js';

const WARN_SECONDS = 300;

/// The grant a session runs under: the vendor's grant covering `protocol` to `asset`, active
/// first, then the one with the most time left.
export function coveringGrant(list, asset, protocol) {
  const candidates = (Array.isArray(list) ? list : [])
    .filter((g) => g.asset === asset && Array.isArray(g.protocols) && g.protocols.includes(protocol));
  candidates.sort((a, b) => Number(b.state === 'active') - Number(a.state === 'active')
    || (Number(b.seconds_left) || 0) - (Number(a.seconds_left) || 0));
  return candidates[0] ?? null;
}

/// Drives `timeLabel` and `timeLeft` (elements of the page's header); returns applyGrants(list),
/// called with each GET /grants answer, which returns the covering grant (or null). The ticker
/// stops with the page.
export function grantClock({ timeLabel, timeLeft, asset, protocol, context }) {
  let grant = null;
  let deadline = 0;
  const tick = () => {
    let text = 'no grant';
    let warn = false;
    timeLabel.textContent = grant ? (grant.state === 'active' ? 'Time left' : 'Grant') : 'Grant';
    if (grant && grant.state !== 'active') {
      replace(timeLeft, badge(grant.state));
      timeLeft.classList.remove('warn-text');
      return;
    }
    if (grant) {
      const startsAt = Date.parse(grant.not_before) || 0;
      if (startsAt > Date.now()) {
        text = `starts in ${fmtDuration((startsAt - Date.now()) / 1000)}`;
      } else {
        const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
        text = left > 0 ? fmtDuration(left) : 'ended';
        warn = left > 0 && left < WARN_SECONDS;
      }
    }
    if (timeLeft.textContent !== text || timeLeft.firstElementChild) timeLeft.textContent = text;
    timeLeft.classList.toggle('warn-text', warn);
  };
  const ticker = setInterval(tick, 1000);
  context.onCleanup(() => clearInterval(ticker));
  return (list) => {
    grant = coveringGrant(list, asset, protocol);
    deadline = Date.now() + (Number(grant?.seconds_left) || 0) * 1000;
    timeLeft.title = grant ? `Grant #${grant.id}: ${fmtWindow(grant.not_before, grant.not_after)}` : '';
    tick();
    return grant;
  };
}
