// The portal's acceptance story in real Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core): a vendor asks for SSH access, an engineer enrols TOTP and approves, the vendor
// works in the browser terminal, the engineer watches and kills the session, an auditor finds,
// verifies and replays the recording and sees the kill in the audit log.
//
// Run by tests/e2e/portal_story_test.cpp against a real `conduit serve`; by hand:
//   PORTAL_URL=https://127.0.0.1:8443 ASSET=hmi VENDOR_USER=alice VENDOR_PASSWORD=... \
//   VENDOR_TOTP_SECRET=BASE32 ENGINEER_USER=erin ENGINEER_PASSWORD=... AUDITOR_USER=ann \
//   AUDITOR_PASSWORD=... ARTEFACTS=build/dev/e2e-artefacts node tests/e2e/portal_story.mjs
// E2E_UNTIL=<step> stops (exit 0) after that step: for debugging only, the registered test always
// runs the whole story. Every step prints "PASS <step>"; a failure prints "FAIL <step>: why",
// leaves failure-<step>.png (and failure-<step>-<person>.png for the others) and exits 1.
import { createHmac } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

// ---- TOTP (RFC 6238: HMAC-SHA1, 30 s steps, 6 digits, as Conduit and authenticator apps) -------

export function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = text.toUpperCase().replace(/=+$/, '').replace(/\s+/g, '');
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const index = alphabet.indexOf(ch);
    if (index < 0) throw new Error(`not base32: ${JSON.stringify(text)}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

export const totpStep = (ms = Date.now()) => Math.floor(ms / 1000 / 30);

export function totpCode(secretBase32, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32Decode(secretBase32)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(binary).padStart(6, '0');
}

/// The server accepts each user's code once per 30 s step: a second code for the same user waits
/// for the next step. `lastSteps` remembers the step used per user.
const lastSteps = new Map();
async function freshCode(user, secret) {
  while (lastSteps.has(user) && totpStep() <= lastSteps.get(user)) {
    await sleep(500);
  }
  const step = totpStep();
  lastSteps.set(user, step);
  return totpCode(secret, step);
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

// ---- configuration ----------------------------------------------------------------------------

function env(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (value == null || value === '') throw new Error(`environment variable ${name} is not set`);
  return value;
}

function config() {
  return {
    url: env('PORTAL_URL').replace(/\/+$/, ''),
    asset: env('ASSET'),
    vendor: { who: 'vendor', user: env('VENDOR_USER'), password: env('VENDOR_PASSWORD'),
      secret: env('VENDOR_TOTP_SECRET') },
    engineer: { who: 'engineer', user: env('ENGINEER_USER'), password: env('ENGINEER_PASSWORD') },
    auditor: { who: 'auditor', user: env('AUDITOR_USER'), password: env('AUDITOR_PASSWORD') },
    admin: { who: 'admin', user: env('ADMIN_USER'), password: env('ADMIN_PASSWORD') },
    artefacts: env('ARTEFACTS'),
    until: process.env.E2E_UNTIL || null,
    chromium: process.env.CHROMIUM || '/usr/bin/chromium',
    // The word the vendor's command prints; the command itself does not contain it, so finding it
    // on a screen or in a recording proves the shell ran the command.
    command: 'echo conduit-e2e-$((6*7))',
    word: 'conduit-e2e-42',
  };
}

// ---- the browser ------------------------------------------------------------------------------

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/// One person: their own browser context (own cookies), their pages, and what their browser
/// complained about (console errors, CSP violations, failed API calls, WebSocket traffic).
class Person {
  constructor(who, context) {
    this.who = who;
    this.context = context;
    this.notes = [];
    this.sockets = [];
  }

  async newPage() {
    const page = await this.context.newPage();
    // Signed out, the page's first GET /api/v1/me is answered 401: expected, not noted.
    const bootProbe = (url) => new URL(url, 'https://x').pathname === '/api/v1/me';
    page.on('console', (m) => {
      if (m.type() !== 'error' && m.type() !== 'warning') return;
      if (bootProbe(m.location()?.url ?? '/') && m.text().includes('401')) return;
      this.notes.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => this.notes.push(`page error: ${e.message}`));
    page.on('response', (r) => {
      if (r.status() >= 400 && r.url().includes('/api/') && !(r.status() === 401 && bootProbe(r.url()))) {
        this.notes.push(`HTTP ${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`);
      }
    });
    page.on('websocket', (ws) => {
      const entry = { url: new URL(ws.url()).pathname + new URL(ws.url()).search, received: '', sent: [],
        texts: [], closed: false };
      this.sockets.push(entry);
      ws.on('framereceived', (f) => {
        if (typeof f.payload === 'string') entry.texts.push(f.payload);
        else entry.received += Buffer.from(f.payload).toString('utf8');
      });
      ws.on('framesent', (f) => entry.sent.push(typeof f.payload === 'string' ? f.payload : '<binary>'));
      ws.on('close', () => { entry.closed = true; });
      ws.on('socketerror', (e) => this.notes.push(`websocket error on ${entry.url}: ${e}`));
    });
    return page;
  }

  /// What the WebSocket endpoints matching `part` sent so far: for failure messages.
  socketSummary(part) {
    const matching = this.sockets.filter((s) => s.url.includes(part));
    if (!matching.length) return `no WebSocket to ${part} was opened`;
    return matching.map((s) => `WebSocket ${s.url}: ${s.received.length} output bytes`
      + `, text frames ${JSON.stringify(s.texts.slice(0, 5))}${s.closed ? ', closed' : ''}`).join('; ');
  }
}

// ---- helpers ----------------------------------------------------------------------------------

const q = (value) => JSON.stringify(String(value));  // a quoted CSS attribute value

/// Fails when the page shows its error banner.
async function noErrorBanner(page) {
  const banner = page.locator('#error-banner');
  if (await banner.isVisible()) {
    throw new Error(`the page shows an error: ${(await banner.innerText()).replace(/\s*Dismiss$/, '')}`);
  }
}

/// Thrown by a probe to stop waiting at once (the page already shows the opposite).
class Fatal extends Error {}

/// Polls `probe` (async, returns a truthy value when done) until it succeeds or `ms` pass; other
/// errors from the probe count as "not yet", a Fatal one ends the wait.
async function until(what, ms, probe) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (error) {
      if (error instanceof Fatal) throw error;
      last = error;
    }
    if (Date.now() > end) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last instanceof Error ? ` (${last.message})` : ''}`);
    }
    await sleep(250);
  }
}

/// All text an element holds (xterm's DOM rows, the player's lines), whitespace collapsed.
const textOf = (page, selector) => page.evaluate((sel) => {
  const el = document.querySelector(sel);
  return el ? el.textContent.replace(/\s+/g, ' ') : null;
}, selector);

/// Signs in with password and TOTP; on a first login enrols TOTP from the QR page and returns the
/// secret read from #enrol-uri. `shot(name)` takes the step's screenshots.
async function signIn(person, page, account, url, shot) {
  await page.goto(`${url}/`);
  await page.waitForSelector('#login-username');
  await page.waitForSelector('#login-banner:not([hidden])', { timeout: 5000 }).catch(() => {
    throw new Error('the login banner (GET /api/v1/banner) is not shown');
  });
  await shot('login');
  await page.fill('#login-username', account.user);
  await page.fill('#login-password', account.password);
  // What comes next is what the server answered (the enrolment page also has a code field, so
  // racing on visible fields could take an enrolment for a plain code prompt).
  const [answer] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/login' &&
      r.request().method() === 'POST'),
    page.click('#login-submit'),
  ]);
  const body = await answer.json().catch(() => ({}));
  const next = answer.ok() ? body.next : 'error';
  if (next === 'enrol') await page.waitForSelector('#enrol-qr', { state: 'visible' });
  if (next === 'totp') await page.waitForSelector('#totp-code', { state: 'visible' });
  if (next === 'error') await page.waitForSelector('#error-banner:not([hidden])');
  if (next === 'error') await noErrorBanner(page);
  let secret = account.secret;
  if (next === 'enrol') {
    const uri = (await page.innerText('#enrol-uri')).trim();
    const match = /^otpauth:\/\/totp\/[^?]+\?(.*)$/.exec(uri);
    if (!match) throw new Error(`#enrol-uri is not an otpauth URI: ${JSON.stringify(uri)}`);
    secret = new URLSearchParams(match[1]).get('secret');
    if (!secret) throw new Error(`#enrol-uri carries no secret: ${uri}`);
    // The QR code must really render (an <img> of SVG: a CSP refusing data: images would hide it).
    const qr = await page.$eval('#enrol-qr', (img) => ({ ok: img.complete && img.naturalWidth > 0,
      w: img.getBoundingClientRect().width }));
    if (!qr.ok || qr.w < 100) throw new Error(`the enrolment QR code does not render (${JSON.stringify(qr)})`);
    await shot('enrol-qr');
  } else if (!secret) {
    throw new Error(`${account.user} was asked for a TOTP code but has no known secret (expected enrolment)`);
  }
  await page.fill('#totp-code', await freshCode(account.user, secret));
  await page.click('#totp-submit');
  await Promise.race([
    page.waitForSelector('#logout'),
    page.waitForSelector('#error-banner:not([hidden])'),
  ]);
  await noErrorBanner(page);
  const shown = await page.innerText('#current-user');
  if (!shown) throw new Error('signed in, but the top bar names no user');
  return secret;
}

// ---- the story --------------------------------------------------------------------------------

export async function runStory(cfg = config()) {
  mkdirSync(cfg.artefacts, { recursive: true });
  const browser = await chromium.launch({ executablePath: cfg.chromium, args: CHROMIUM_ARGS });
  const people = {};
  for (const who of ['vendor', 'engineer', 'auditor', 'admin']) {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(15000);
    // CSP violations are reported on the console too, but with less detail.
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
      });
    });
    people[who] = new Person(who, context);
  }
  const vendor = await people.vendor.newPage();
  const engineer = await people.engineer.newPage();
  const auditor = await people.auditor.newPage();
  const admin = await people.admin.newPage();
  const pageOf = { vendor, engineer, auditor, admin };

  let shotNumber = 0;
  let active = vendor;
  const shoot = (page, name) => {
    shotNumber += 1;
    const file = `${String(shotNumber).padStart(2, '0')}-${name}.png`;
    return page.screenshot({ path: join(cfg.artefacts, file), fullPage: true });
  };
  const s = {};  // what the steps learn: request id, session id, ...

  const steps = [
    ['vendor-login', async () => {
      active = vendor;
      await signIn(people.vendor, vendor, cfg.vendor, cfg.url, (n) => shoot(vendor, `vendor-${n}`));
      await vendor.waitForURL(/#\/vendor$/);
      await vendor.waitForSelector('#request-access');
      await vendor.waitForSelector(`#req-asset option[value=${q(cfg.asset)}]`, { state: 'attached' });
      await noErrorBanner(vendor);
      await shoot(vendor, 'vendor-page');
    }],
    ['request', async () => {
      await vendor.selectOption('#req-asset', cfg.asset);
      await vendor.check('#req-protocol-ssh');
      await vendor.fill('#req-duration', '60');
      // The reason carries markup: it must reach the engineer as text, never as HTML.
      await vendor.fill('#req-reason', `E2E: check the alarm configuration on ${cfg.asset} <img src=x onerror=alert(1)><i>not markup</i>`);
      await vendor.fill('#req-ticket', 'CHG-E2E-1');
      await shoot(vendor, 'request-form-filled');
      const [response] = await Promise.all([
        vendor.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/v1/requests'),
        vendor.click('#req-submit'),
      ]);
      if (response.status() !== 201) throw new Error(`POST /api/v1/requests answered ${response.status()}: ${await response.text()}`);
      const created = await response.json();
      s.requestId = created.id;
      if (created.state !== 'pending') throw new Error(`the request is ${created.state}, expected pending (approval needed)`);
      const row = vendor.locator(`#requests-table tr[data-request-id=${q(s.requestId)}]`);
      await row.waitFor();
      await until('the request row to show "pending"', 10000, async () => (await row.innerText()).includes('pending'));
      await noErrorBanner(vendor);
      await shoot(vendor, 'request-submitted');
      console.log(`request id ${s.requestId}`);
    }],
    ['engineer-enrol', async () => {
      active = engineer;
      await signIn(people.engineer, engineer, cfg.engineer, cfg.url, (n) => shoot(engineer, `engineer-${n}`));
      await engineer.waitForURL(/#\/engineer$/);
      await noErrorBanner(engineer);
    }],
    ['approve', async () => {
      const id = s.requestId;
      const card = engineer.locator(`article.approval[data-request-id=${q(id)}]`);
      await card.waitFor();
      // User-supplied text is shown literally: the markup is visible text, no element was made.
      const shown = await card.innerText();
      if (!shown.includes('<i>not markup</i>')) throw new Error(`the reason is not shown literally: ${shown}`);
      if (await card.locator('img, i').count()) throw new Error('the reason was interpreted as HTML');
      await engineer.click(`[data-action=explain][data-request-id=${q(id)}]`);
      const explain = engineer.locator(`#explain-${id}`);
      await explain.waitFor({ state: 'visible' });
      const why = await until('the policy explanation', 10000, async () => {
        const text = (await explain.innerText()).trim();
        return text && text !== 'Loading…' ? text : null;
      });
      if (/could not be loaded/.test(why)) throw new Error(`"Why?" shows: ${why}`);
      await engineer.fill(`#comment-${id}`, 'E2E: approved for the alarm check');
      await noErrorBanner(engineer);
      await shoot(engineer, 'engineer-approval-explained');
      const [response] = await Promise.all([
        engineer.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/api/v1/requests/${id}/approve`)),
        engineer.click(`[data-action=approve][data-request-id=${q(id)}]`),
      ]);
      if (response.status() !== 200) throw new Error(`approve answered ${response.status()}: ${await response.text()}`);
      const decided = await response.json();
      if (!decided.grant) throw new Error(`approved, but no grant was issued: ${JSON.stringify(decided.request)}`);
      s.grantId = decided.grant.id;
      await card.waitFor({ state: 'detached' });
      await noErrorBanner(engineer);
      await shoot(engineer, 'engineer-approved');
      // The vendor's page picks the grant up on its next refresh (every 5 s).
      active = vendor;
      const grantRow = vendor.locator(`#grants-table tr[data-grant-id=${q(s.grantId)}]`);
      await grantRow.waitFor({ timeout: 15000 });
      await until('the vendor\'s grant to be active', 10000, async () => (await grantRow.innerText()).includes('active'));
      await noErrorBanner(vendor);
      await shoot(vendor, 'vendor-grant-active');
    }],
    ['terminal', async () => {
      active = vendor;
      const button = vendor.locator(`[data-action=terminal][data-asset=${q(cfg.asset)}]`);
      await button.waitFor({ timeout: 10000 }).catch(() => {
        throw new Error(`the vendor page has no browser-terminal button [data-action=terminal][data-asset=${q(cfg.asset)}]`);
      });
      await button.click();
      await vendor.waitForURL((u) => decodeURIComponent(u.hash) === `#/terminal/${cfg.asset}`);
      await vendor.waitForSelector('#terminal .xterm', { timeout: 10000 }).catch(() => {
        throw new Error('no xterm terminal in #terminal');
      });
      s.sessionId = await until('the session id in #terminal-session', 15000, async () => {
        const status = await vendor.locator('#terminal-status').innerText();
        if (/closed/i.test(status)) throw new Fatal(`#terminal-status says: ${status}`);
        const text = ((await vendor.locator('#terminal-session').textContent()) ?? '').trim();
        return text || null;
      }).catch((error) => {
        throw new Error(`${error.message}; ${people.vendor.socketSummary('/api/v1/terminal')}`);
      });
      console.log(`session id ${s.sessionId}`);
      // Give the shell a moment to print its prompt, then type like a person.
      await until('the shell to print something', 10000, async () => (await textOf(vendor, '#terminal .xterm-rows'))?.trim())
        .catch(() => {});
      await vendor.click('#terminal .xterm');
      await vendor.focus('#terminal .xterm-helper-textarea').catch(() => {});
      await vendor.keyboard.type(cfg.command, { delay: 20 });
      await vendor.keyboard.press('Enter');
      await until(`"${cfg.word}" on the vendor's screen`, 10000, async () => (await textOf(vendor, '#terminal'))?.includes(cfg.word))
        .catch((error) => {
          throw new Error(`${error.message}; ${people.vendor.socketSummary('/api/v1/terminal')}`);
        });
      const status = await vendor.locator('#terminal-status').innerText();
      if (/closed/i.test(status)) throw new Error(`#terminal-status already says: ${status}`);
      await noErrorBanner(vendor);
      await shoot(vendor, 'vendor-terminal-output');
    }],
    ['live-view', async () => {
      active = engineer;
      if (!/#\/engineer$/.test(engineer.url())) await engineer.goto(`${cfg.url}/#/engineer`);
      const row = engineer.locator(`#sessions-table tr[data-session-id=${q(s.sessionId)}]`);
      await row.waitFor({ timeout: 10000 });
      await noErrorBanner(engineer);
      await shoot(engineer, 'engineer-live-sessions');
      // "Watch" may open in this tab or a new one: follow whichever happens.
      const popup = people.engineer.context.waitForEvent('page', { timeout: 5000 }).catch(() => null);
      await row.locator('[data-action=watch]').click();
      let live = engineer;
      try {
        await engineer.waitForURL((u) => decodeURIComponent(u.hash) === `#/live/${s.sessionId}`, { timeout: 5000 });
      } catch {
        live = await popup;
        if (!live) throw new Error(`"Watch" opened neither #/live/${s.sessionId} here nor a new tab`);
        await live.waitForLoadState();
      }
      s.livePage = live;
      active = live;
      await live.waitForSelector('#live-terminal', { timeout: 10000 });
      await until(`"${cfg.word}" in the live view`, 10000, async () => (await textOf(live, '#live-terminal'))?.includes(cfg.word))
        .catch((error) => {
          throw new Error(`${error.message}; ${people.engineer.socketSummary('/live')}`);
        });
      await noErrorBanner(live);
      await shoot(live, 'engineer-live-view');
    }],
    ['kill', async () => {
      // The live view stays open in its tab; the kill is done from the engineer page's sessions
      // table in a second tab, so the live view's reaction to the end can be seen too.
      const tab = await people.engineer.newPage();
      s.killTab = tab;
      active = tab;
      await tab.goto(`${cfg.url}/#/engineer`);
      const row = tab.locator(`#sessions-table tr[data-session-id=${q(s.sessionId)}]`);
      await row.waitFor({ timeout: 10000 });
      await row.locator('[data-action=kill]').click();
      await row.locator('input[name=reason]').fill('E2E: work finished, ending the session');
      await shoot(tab, 'engineer-kill-reason');
      const [response] = await Promise.all([
        tab.waitForResponse((r) => r.request().method() === 'POST'
          && decodeURIComponent(new URL(r.url()).pathname) === `/api/v1/sessions/${s.sessionId}/kill`),
        row.locator('[data-action=kill-confirm]').click(),
      ]);
      s.killedAt = Date.now();
      if (response.status() !== 200) throw new Error(`kill answered ${response.status()}: ${await response.text()}`);
      await row.waitFor({ state: 'detached', timeout: 10000 });
      await noErrorBanner(tab);
      await shoot(tab, 'engineer-killed');
    }],
    ['vendor-closed', async () => {
      active = vendor;
      // The API promises the end within 1 s; the page must say so within 5 s of the kill.
      const left = Math.max(500, s.killedAt + 5000 - Date.now());
      await until('#terminal-status to say "closed" within 5 s of the kill', left, async () => /closed/i.test(await vendor.locator('#terminal-status').innerText()))
        .catch((error) => {
          throw new Error(`${error.message}; ${people.vendor.socketSummary('/api/v1/terminal')}`);
        });
      console.log(`vendor terminal closed ${Date.now() - s.killedAt} ms after the kill`);
      await shoot(vendor, 'vendor-terminal-closed');
      await shoot(s.livePage, 'engineer-live-view-after-kill');
    }],
    ['auditor-enrol', async () => {
      active = auditor;
      await signIn(people.auditor, auditor, cfg.auditor, cfg.url, (n) => shoot(auditor, `auditor-${n}`));
      await auditor.waitForURL(/#\/auditor$/);
      await noErrorBanner(auditor);
    }],
    ['search', async () => {
      await auditor.fill('#rec-q', cfg.word);
      const row = auditor.locator(`#recordings-table tr[data-session-id=${q(s.sessionId)}]`);
      // The recording is sealed and indexed when the session ends: search again until it is there.
      await until(`session ${s.sessionId} in the search results for "${cfg.word}"`, 20000, async () => {
        await Promise.all([
          auditor.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/recordings'),
          auditor.click('#rec-search'),
        ]);
        return (await row.count()) > 0;
      });
      const rows = await auditor.locator('#recordings-table tr[data-session-id]').count();
      if (rows !== 1) throw new Error(`the search for "${cfg.word}" found ${rows} sessions, expected exactly 1`);
      await noErrorBanner(auditor);
      await shoot(auditor, 'auditor-search-results');
    }],
    ['verify', async () => {
      const row = auditor.locator(`#recordings-table tr[data-session-id=${q(s.sessionId)}]`);
      await row.locator('[data-action=verify]').click();
      const verdict = row.locator('.verdict');
      await verdict.waitFor();
      if ((await verdict.getAttribute('data-ok')) !== 'true') throw new Error(`verification failed: ${await verdict.innerText()}`);
      await noErrorBanner(auditor);
      await shoot(auditor, 'auditor-verified');
    }],
    ['replay', async () => {
      const row = auditor.locator(`#recordings-table tr[data-session-id=${q(s.sessionId)}]`);
      await row.locator('[data-action=replay]').click();
      await auditor.waitForURL((u) => decodeURIComponent(u.hash) === `#/replay/${s.sessionId}`);
      const verdict = auditor.locator('#replay-verdict .verdict');
      await verdict.waitFor();
      if ((await verdict.getAttribute('data-ok')) !== 'true') throw new Error(`#replay-verdict: ${await verdict.innerText()}`);
      const warning = auditor.locator('#replay-player .notice');
      const player = auditor.locator('#replay-player .ap-wrapper, #replay-player .ap-player').first();
      await until('the asciinema player in #replay-player', 10000, async () => {
        if (await warning.count()) throw new Fatal(`#replay-player says: ${await warning.innerText()}`);
        return player.isVisible();
      });
      // Play it: the recorded output must appear in the player.
      await player.click();
      await until(`"${cfg.word}" in the replay`, 20000, async () => (await textOf(auditor, '#replay-player'))?.includes(cfg.word));
      // The Files card read the recording (a browser terminal moves no files): its answer, not
      // its loading line or an error.
      await until('the answer in #replay-files', 10000, async () =>
        (await textOf(auditor, '#replay-files'))?.includes('No files were moved in this session.'));
      await noErrorBanner(auditor);
      await shoot(auditor, 'auditor-replay');
    }],
    ['audit-log', async () => {
      await auditor.goto(`${cfg.url}/#/auditor`);
      await auditor.selectOption('#audit-category', 'session');
      await Promise.all([
        auditor.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/audit'),
        auditor.click('#audit-search'),
      ]);
      const killed = auditor.locator('#audit-table tr', { hasText: 'session.killed' })
        .filter({ hasText: `session:${s.sessionId}` });
      await until(`session.killed for session:${s.sessionId} in the audit log`, 10000, async () => (await killed.count()) === 1);
      await auditor.click('#audit-verify');
      const chain = auditor.locator('#audit-verify-result .verdict');
      await chain.waitFor();
      if ((await chain.getAttribute('data-ok')) !== 'true') throw new Error(`audit chain: ${await chain.innerText()}`);
      await noErrorBanner(auditor);
      await shoot(auditor, 'auditor-audit-log');
    }],
    ['admin', async () => {
      // The administrator enrols TOTP, adds a vendor organisation through the form, and sees it
      // listed with the policy files checked.
      active = admin;
      await signIn(people.admin, admin, cfg.admin, cfg.url, (n) => shoot(admin, `admin-${n}`));
      await admin.goto(`${cfg.url}/#/admin`);
      await admin.waitForSelector('#vendor-form');
      await admin.fill('#vendor-name', 'globex-e2e');
      await admin.fill('#vendor-contact', 'service@globex.example');
      await Promise.all([
        admin.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/admin/vendors' &&
          r.request().method() === 'POST' && r.status() === 201),
        admin.click('#vendor-submit'),
      ]);
      await until('globex-e2e in the vendors table', 10000,
        async () => (await admin.locator('#admin-vendors', { hasText: 'globex-e2e' }).count()) === 1);
      await until('the policy files checked', 10000,
        async () => !/Checking/.test(await admin.innerText('#admin-policies-summary')));
      await noErrorBanner(admin);
      await shoot(admin, 'admin-page');
    }],
  ];

  let failed = null;
  for (const [name, run] of steps) {
    const started = Date.now();
    try {
      await run();
      console.log(`PASS ${name} (${Date.now() - started} ms)`);
    } catch (error) {
      failed = name;
      console.log(`FAIL ${name}: ${error.message.split('\n')[0]}`);
      if (error.stack) console.log(error.stack.split('\n').slice(1, 4).join('\n'));
      await active.screenshot({ path: join(cfg.artefacts, `failure-${name}.png`), fullPage: true }).catch(() => {});
      for (const [who, page] of Object.entries(pageOf)) {
        if (page !== active) {
          await page.screenshot({ path: join(cfg.artefacts, `failure-${name}-${who}.png`), fullPage: true }).catch(() => {});
        }
      }
      break;
    }
    if (cfg.until === name) {
      console.log(`STOP after ${name} (E2E_UNTIL): the rest of the story did not run`);
      break;
    }
  }

  for (const person of Object.values(people)) {
    const notes = [...new Set(person.notes)];
    if (notes.length) console.log(`${person.who}'s browser noted:\n  ${notes.join('\n  ')}`);
  }
  writeFileSync(join(cfg.artefacts, 'story.json'), JSON.stringify({
    failed, requestId: s.requestId, grantId: s.grantId, sessionId: s.sessionId,
    notes: Object.fromEntries(Object.values(people).map((p) => [p.who, [...new Set(p.notes)]])),
  }, null, 2));
  await browser.close();
  if (s.sessionId) console.log(`SESSION_ID=${s.sessionId}`);
  if (failed) {
    console.log(`portal story FAILED at ${failed}; screenshots in ${cfg.artefacts}`);
    return 1;
  }
  console.log(`portal story passed; screenshots in ${cfg.artefacts}`);
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  // A hung browser must not outlive the test: the whole story gets 4 minutes.
  const watchdog = setTimeout(() => {
    console.log('FAIL watchdog: the story took longer than 240 s');
    process.exit(1);
  }, 240_000);
  watchdog.unref();
  runStory().then((code) => { process.exitCode = code; }).catch((error) => {
    console.log(`FAIL setup: ${error.stack ?? error}`);
    process.exitCode = 1;
  });
}
