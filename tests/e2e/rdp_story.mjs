// Browser RDP in real Chromium (Debian's /usr/bin/chromium, driven by playwright-core): the vendor
// signs in with password and TOTP, opens the remote desktop from her approved grant, sees the
// target's xterm drawn on the canvas, types a line into it, sends Ctrl+Alt+Del and disconnects;
// where CLIPBOARD_ASSET is set, opens that desktop too and carries clipboard text both ways
// through the page's Clipboard panel.
//
// Run by tests/e2e/rdp_story_test.cpp against a real `conduit serve` and FreeRDP's shadow server
// (an xterm running `cat > FILE`); that side checks the typed line in FILE, the audit trail and
// the recording. By hand:
//   PORTAL_URL=https://127.0.0.1:8443 ASSET=desk VENDOR_USER=alice VENDOR_PASSWORD=... \
//   VENDOR_TOTP_SECRET=BASE32 TYPED_TEXT=hello-from-chromium ARTEFACTS=build/dev/e2e-artefacts/rdp \
//   node tests/e2e/rdp_story.mjs
// Every step prints "PASS <step>"; a failure prints "FAIL <step>: why", leaves failure-<step>.png
// and exits 1. "TYPED_AT=<ms>" marks the moment Enter was pressed, "SESSION_ID=<id>" the session.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { totpCode, totpStep } from './portal_story.mjs';

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

function env(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (value == null || value === '') throw new Error(`environment variable ${name} is not set`);
  return value;
}

function config() {
  return {
    url: env('PORTAL_URL').replace(/\/+$/, ''),
    asset: env('ASSET'),
    vendor: { user: env('VENDOR_USER'), password: env('VENDOR_PASSWORD'), secret: env('VENDOR_TOTP_SECRET') },
    engineer: { user: env('ENGINEER_USER'), password: env('ENGINEER_PASSWORD'), secret: env('ENGINEER_TOTP_SECRET') },
    auditor: { user: env('AUDITOR_USER'), password: env('AUDITOR_PASSWORD'), secret: env('AUDITOR_TOTP_SECRET') },
    typed: env('TYPED_TEXT', 'hello-from-chromium'),
    // Optional: a second desktop whose policy allows the clipboard (xrdp in the test).
    clipboard: process.env.CLIPBOARD_ASSET ? {
      asset: process.env.CLIPBOARD_ASSET,
      toTarget: env('CLIPBOARD_TO_TARGET'),
      fromTarget: env('CLIPBOARD_FROM_TARGET'),
    } : null,
    // Optional: a third desktop whose policy allows a drive, and where the target's side of
    // that drive is on this machine (xrdp-chansrv's FUSE mount in the test).
    // Its sound: xrdp-chansrv's socket that takes PCM to play (where the test feeds it).
    drive: process.env.DRIVE_ASSET ? {
      asset: process.env.DRIVE_ASSET, path: env('DRIVE_PATH'), sound: process.env.SOUND_SOCKET || null,
    } : null,
    // Optional: a fourth desktop whose policy allows the printer, and which prints a page with
    // this text as soon as a client offers one (conduit-test-rdp-printer in the test).
    print: process.env.PRINT_ASSET ? { asset: process.env.PRINT_ASSET, text: env('PRINT_TEXT') } : null,
    artefacts: env('ARTEFACTS'),
    chromium: process.env.CHROMIUM || '/usr/bin/chromium',
  };
}

/// The desktop's sound: one second of a known pattern fed to xrdp-chansrv's sound socket (as
/// pulseaudio's xrdp sink would) in its 8 KiB blocks at about real time; the page must get every
/// byte in order (its Sound button counts them and hashes them) and play every piece.
async function playSound(page, socketPath) {
  const sound = page.locator('#rdp-sound');
  if (await sound.isHidden()) throw new Error('no Sound button although the policy allows audio');
  await page.click('#rdp-canvas'); // a user gesture: the browser may start playing
  await until('xrdp-chansrv\'s sound socket', 10000, async () => existsSync(socketPath));
  const socket = await new Promise((resolve, reject) => {
    const c = netConnect(socketPath, () => resolve(c));
    c.on('error', reject);
  });
  let sum = 0x811c9dc5; // FNV-1a over the bytes in order, as the page computes it
  let total = 0;
  try {
    for (let block = 0; block < 20; block += 1) {
      const message = Buffer.alloc(8 + 8192);
      message.writeUInt32LE(0, 0);
      message.writeUInt32LE(message.length, 4);
      for (let i = 0; i < 8192; i += 1) {
        const b = (i * 7 + block * 13) % 251;
        message[8 + i] = b;
        sum = Math.imul(sum ^ b, 16777619) >>> 0;
      }
      total += 8192;
      socket.write(message);
      await new Promise((r) => setTimeout(r, 50));
    }
    await until(`#rdp-sound to count ${total} bytes`, 10000, async () =>
      Number(await sound.getAttribute('data-bytes')) === total)
      .catch(async (error) => {
        throw new Error(`${error.message}: ${JSON.stringify(await sound.evaluate((b) => ({ ...b.dataset })))}`);
      });
  } finally {
    socket.destroy();
  }
  const got = await sound.evaluate((b) => ({ ...b.dataset }));
  console.log(`sound: ${JSON.stringify(got)}`);
  if (Number(got.sum) !== sum) throw new Error(`the page's sound differs from what the target played: sum ${got.sum}, want ${sum}`);
  if (Number(got.played) !== Number(got.pieces) || Number(got.dropped) !== 0) {
    throw new Error(`the page did not play every piece of sound it got: ${JSON.stringify(got)}`);
  }
}

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const q = (value) => JSON.stringify(String(value)); // a quoted CSS attribute value

/// Thrown by a probe to stop waiting at once (the page already shows the opposite).
class Fatal extends Error {}

/// Polls `probe` until it returns something truthy or `ms` pass; a Fatal error ends the wait.
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
    await sleep(100);
  }
}

async function noErrorBanner(page) {
  const banner = page.locator('#error-banner');
  if (await banner.isVisible()) {
    throw new Error(`the page shows an error: ${(await banner.innerText()).replace(/\s*Dismiss$/, '')}`);
  }
}

/// What the canvas shows, measured in the page: its size, how many distinct colours (quantised
/// to 4 bits a channel) cover at least 0.1 % of it, the share of light and dark pixels, and the
/// The canvas in 32x32 blocks, each its mean luma: a picture's signature to compare two canvases
/// (the live desktop and its replay) without moving megabytes out of the page.
const signature = (page, selector) => page.evaluate((sel) => {
  const canvas = document.querySelector(sel);
  const { width, height } = canvas;
  const d = canvas.getContext('2d').getImageData(0, 0, width, height).data;
  const cols = Math.ceil(width / 32);
  const rows = Math.ceil(height / 32);
  const sums = new Array(cols * rows).fill(0);
  const counts = new Array(cols * rows).fill(0);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const i = (y * width + x) * 4;
      const b = Math.floor(y / 32) * cols + Math.floor(x / 32);
      sums[b] += 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
      counts[b] += 1;
    }
  }
  return { width, height, blocks: sums.map((v, i) => v / counts[i]) };
}, selector);

/// dark pixels in `box` (desktop pixels: the xterm's first text line).
const measureCanvas = (page, box) => page.evaluate((b) => {
  const canvas = document.querySelector(b.canvas ?? '#rdp-canvas');
  const ctx = canvas.getContext('2d');
  const { width, height } = canvas;
  const all = ctx.getImageData(0, 0, width, height).data;
  const counts = new Map();
  let light = 0;
  let dark = 0;
  const luma = (d, i) => 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
  for (let i = 0; i < all.length; i += 4) {
    const key = ((all[i] >> 4) << 8) | ((all[i + 1] >> 4) << 4) | (all[i + 2] >> 4);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    const y = luma(all, i);
    if (y > 200) light += 1;
    else if (y < 60) dark += 1;
  }
  const pixels = width * height;
  const colours = [...counts.values()].filter((n) => n >= pixels / 1000).length;
  const region = ctx.getImageData(b.x, b.y, b.w, b.h).data;
  let regionDark = 0;
  let regionLight = 0;
  for (let i = 0; i < region.length; i += 4) {
    const y = luma(region, i);
    if (y < 60) regionDark += 1;
    else if (y > 200) regionLight += 1;
  }
  return { width, height, colours, light: light / pixels, dark: dark / pixels, regionDark, regionLight,
    regionPixels: b.w * b.h };
}, box);

async function signIn(page, account, url) {
  await page.goto(`${url}/`);
  await page.waitForSelector('#login-username');
  await page.fill('#login-username', account.user);
  await page.fill('#login-password', account.password);
  const [answer] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/login' && r.request().method() === 'POST'),
    page.click('#login-submit'),
  ]);
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok() || body.next !== 'totp') {
    throw new Error(`POST /api/v1/login answered ${answer.status()} ${JSON.stringify(body)}, expected next: "totp"`);
  }
  await page.waitForSelector('#totp-code', { state: 'visible' });
  await page.fill('#totp-code', totpCode(account.secret, totpStep()));
  await page.click('#totp-submit');
  await Promise.race([page.waitForSelector('#logout'), page.waitForSelector('#error-banner:not([hidden])')]);
  await noErrorBanner(page);
}

export async function runStory(cfg = config()) {
  mkdirSync(cfg.artefacts, { recursive: true });
  const browser = await chromium.launch({ executablePath: cfg.chromium, args: CHROMIUM_ARGS });
  // Tall enough that the 1024x768 desktop is shown unscaled (the page asks for the size of its
  // drawing area; the shadow server's desktop is the size of its X display).
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 1150 } });
  context.setDefaultTimeout(15000);
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
    });
  });
  const page = await context.newPage();
  const notes = [];
  const fatalNotes = [];
  page.on('console', (m) => {
    if (m.type() !== 'error' && m.type() !== 'warning') return;
    // This script's own getImageData calls on the page's canvas.
    if (m.text().includes('willReadFrequently')) return;
    // Signed out, the page's first GET /api/v1/me is answered 401: expected.
    if (new URL(m.location()?.url || '/', 'https://x').pathname === '/api/v1/me' && m.text().includes('401')) return;
    notes.push(`console ${m.type()}: ${m.text()}`);
    if (m.text().startsWith('CSP violation')) fatalNotes.push(m.text());
  });
  page.on('pageerror', (e) => {
    notes.push(`page error: ${e.message}`);
    fatalNotes.push(e.message);
  });
  // The RDP socket's text messages (started, notice, closed) and the keys the page sent.
  const socket = { url: null, texts: [], sent: [], binary: 0, closed: false };
  page.on('websocket', (ws) => {
    if (!ws.url().includes('/api/v1/rdp')) return;
    socket.url = ws.url();
    ws.on('framereceived', (f) => {
      if (typeof f.payload === 'string') socket.texts.push(f.payload);
      else socket.binary += 1;
    });
    ws.on('framesent', (f) => { if (typeof f.payload === 'string') socket.sent.push(f.payload); });
    ws.on('close', () => { socket.closed = true; });
  });
  const socketSummary = () => (socket.url
    ? `WebSocket ${socket.url}: ${socket.binary} binary messages, text ${JSON.stringify(socket.texts.slice(0, 5))}${socket.closed ? ', closed' : ''}`
    : 'no WebSocket to /api/v1/rdp was opened');
  const shoot = (name) => page.screenshot({ path: join(cfg.artefacts, `${name}.png`), fullPage: true });
  const status = () => page.locator('#rdp-status').innerText();
  // Opens the remote desktop page of `asset` and waits until it is connected.
  const openDesktop = async (asset) => {
    await page.goto(`${cfg.url}/#/rdp/${encodeURIComponent(asset)}`);
    await until('#rdp-status to say connected', 20000, async () => {
      if (/closed/i.test(await status())) {
        throw new Fatal(`#rdp-status says closed: ${await page.locator('#rdp-closed-reason').innerText()}`);
      }
      return /connected/.test(await status());
    });
  };
  const frames = async () => Number(await page.locator('#rdp-canvas').getAttribute('data-frames')) || 0;
  const keysSent = () => socket.sent.filter((t) => t.includes('"key"')).length;
  const s = {};

  const steps = [
    ['vendor-login', async () => {
      await signIn(page, cfg.vendor, cfg.url);
      await page.waitForURL(/#\/vendor$/);
      await shoot('01-vendor-page');
    }],
    ['rdp-button', async () => {
      const selector = `[data-action=rdp][data-asset=${q(cfg.asset)}]`;
      const button = page.locator(`#grants-table ${selector}`);
      await button.waitFor({ timeout: 15000 }).catch(() => {
        throw new Error(`the vendor page lists no "RDP" button [data-action=rdp][data-asset=${q(cfg.asset)}] in #grants-table`);
      });
      const row = page.locator('#grants-table tr', { has: page.locator(selector) });
      const text = await row.innerText();
      if (!/active/.test(text)) throw new Error(`the grant row is not active: ${text}`);
      if (!/rdp/i.test(text)) throw new Error(`the grant row does not list rdp: ${text}`);
      if ((await button.innerText()).trim() !== 'RDP') throw new Error(`the button says "${await button.innerText()}"`);
      await shoot('02-vendor-rdp-grant');
      await button.click();
      await page.waitForURL((u) => decodeURIComponent(u.hash) === `#/rdp/${cfg.asset}`);
    }],
    ['desktop', async () => {
      s.clickedAt = Date.now();
      await page.waitForSelector('#rdp-canvas');
      s.sessionId = await until('the session id in #rdp-session', 20000, async () => {
        if (/closed/i.test(await status())) {
          throw new Fatal(`#rdp-status says closed: ${await page.locator('#rdp-closed-reason').innerText()}`);
        }
        return ((await page.locator('#rdp-session').textContent()) ?? '').trim() || null;
      }).catch((error) => { throw new Error(`${error.message}; ${socketSummary()}`); });
      console.log(`SESSION_ID=${s.sessionId}`);
      await until('data-frames >= 1 on #rdp-canvas', 10000, async () => (await frames()) >= 1)
        .catch((error) => { throw new Error(`${error.message}; ${socketSummary()}`); });
      console.log(`first frame ${Date.now() - s.clickedAt} ms after the click; desktop ${await page.locator('#rdp-canvas').getAttribute('data-desktop')}`);
      if (!/connected/.test(await status())) throw new Error(`#rdp-status says: ${await status()}`);
      await noErrorBanner(page);
      await shoot('rdp-desktop');
    }],
    ['pixels', async () => {
      // The xterm (170x58 characters of 6x13 pixels at +0+0, black on white by default) covers
      // the X display except a strip at the right and the bottom where the bare root window is
      // black; before anything is typed its first line is empty but for the cursor, a black
      // block in the first cell.
      s.cursor = { x: 0, y: 0, w: 12, h: 16 };
      s.line = { x: 12, y: 2, w: 200, h: 11 }; // the first line right of the first cell
      const m = await until('a desktop that is not uniform', 10000, async () => {
        const seen = { ...(await measureCanvas(page, s.line)), cursorDark: (await measureCanvas(page, s.cursor)).regionDark };
        s.lastMeasure = seen;
        return seen.colours >= 2 && seen.light > 0.5 && seen.dark > 0.001 && seen.cursorDark >= 30 ? seen : null;
      }).catch((error) => { throw new Error(`${error.message}; last measured ${JSON.stringify(s.lastMeasure)}`); });
      console.log(`canvas before typing: ${JSON.stringify(m)}`);
      if (m.regionLight < 0.9 * m.regionPixels) throw new Error(`the xterm's first line is not empty (white): ${JSON.stringify(m)}`);
      s.before = m;
    }],
    ['type', async () => {
      const box = await page.locator('#rdp-canvas').boundingBox();
      await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
      const focused = await page.evaluate(() => document.activeElement?.id);
      if (focused !== 'rdp-canvas') throw new Error(`after the click the focus is on #${focused}, not #rdp-canvas`);
      await page.keyboard.type(cfg.typed, { delay: 30 });
      await page.keyboard.press('Enter');
      console.log(`TYPED_AT=${Date.now()}`);
      const expected = 2 * (cfg.typed.length + 1);
      await until(`${expected} key messages on the socket`, 5000, async () => keysSent() >= expected)
        .catch((error) => { throw new Error(`${error.message}: ${keysSent()} sent`); });
      // The tty echoes what `cat` reads: the first line fills with dark glyphs (about a dozen
      // pixels each).
      const m = await until('the typed text drawn on the first line of the canvas', 10000, async () => {
        const seen = await measureCanvas(page, s.line);
        s.lastMeasure = seen;
        return seen.regionDark >= s.before.regionDark + 8 * cfg.typed.length ? seen : null;
      }).catch((error) => {
        throw new Error(`${error.message}; before ${JSON.stringify(s.before)}, last ${JSON.stringify(s.lastMeasure)}`);
      });
      console.log(`canvas after typing: ${JSON.stringify(m)}`);
      await shoot('rdp-typed');
    }],
    ['ctrl-alt-del', async () => {
      const before = socket.sent.filter((t) => t.includes('"cad"')).length;
      const framesBefore = await frames();
      // It reaches the target: without a window manager the xterm takes Ctrl+Alt+Delete as a
      // key and sends ESC [3;7~, which the tty echoes as "^[[3;7~" on the second line. Measured
      // before the click: the echo can be on the canvas before the next check runs.
      const secondLine = { ...s.line, y: s.line.y + 13 };
      const empty = await measureCanvas(page, secondLine);
      if (empty.regionDark) throw new Error(`the second line is not empty before Ctrl+Alt+Del: ${JSON.stringify(empty)}`);
      await page.click('#rdp-cad');
      await until('a {"type":"cad"} message on the socket', 5000,
        async () => socket.sent.filter((t) => t.includes('"cad"')).length > before);
      const m = await until('Ctrl+Alt+Del echoed on the second line of the canvas', 10000, async () => {
        if (/closed/i.test(await status())) {
          throw new Fatal(`Ctrl+Alt+Del closed the session: ${await page.locator('#rdp-closed-reason').innerText()}`);
        }
        const seen = await measureCanvas(page, secondLine);
        s.lastMeasure = seen;
        return seen.regionDark >= 40 ? seen : null;
      }).catch((error) => { throw new Error(`${error.message}; last ${JSON.stringify(s.lastMeasure)}`); });
      console.log(`second line after Ctrl+Alt+Del: ${m.regionDark} dark pixels`);
      if (/closed/i.test(await status())) throw new Error('Ctrl+Alt+Del closed the session');
      console.log(`frames ${framesBefore} -> ${await frames()} around Ctrl+Alt+Del`);
      await noErrorBanner(page);
      await shoot('rdp-ctrl-alt-del');
    }],
    ['live-view', async () => {
      // The engineer watches the same desktop, read-only, in another browser context: the live
      // page switches to a canvas and draws from the keyframe the broker asks for on join.
      // The context stays open: the clipboard step watches with it (a second sign-in within
      // the same 30 s TOTP step would be refused as a replayed code).
      const engineerContext = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 1150 } });
      s.engineerContext = engineerContext;
      {
        const watcher = await engineerContext.newPage();
        s.watcher = watcher;
        watcher.on('pageerror', (e) => fatalNotes.push(`engineer page: ${e.message}`));
        await signIn(watcher, cfg.engineer, cfg.url);
        await watcher.goto(`${cfg.url}/#/live/${encodeURIComponent(s.sessionId)}`);
        await watcher.waitForSelector('#live-desktop');
        await until('the live canvas to draw a frame', 10000, async () =>
          Number(await watcher.locator('#live-desktop').getAttribute('data-frames')) >= 1);
        const seen = await measureCanvas(watcher, { x: 0, y: 0, w: 1024, h: 768, canvas: '#live-desktop' });
        if (seen.colours < 2) throw new Error(`the live canvas is uniform: ${JSON.stringify(seen)}`);
        await watcher.screenshot({ path: join(cfg.artefacts, 'live-desktop.png'), fullPage: true });
      }
      // The vendor's session goes on while watched.
      if (/closed/i.test(await status())) throw new Error('the session closed while watched');
    }],
    ['disconnect', async () => {
      // What the vendor saw last: the replay must show the same picture at the same moment.
      s.finalPicture = await signature(page, '#rdp-canvas');
      await page.click('#rdp-disconnect');
      await until('#rdp-status to say "closed"', 5000, async () => /closed/i.test(await status()));
      const reason = await page.locator('#rdp-closed-reason').innerText();
      if (!/you disconnected/.test(reason)) throw new Error(`#rdp-closed-reason says: ${reason}`);
      await until('the RDP WebSocket to close', 5000, async () => socket.closed);
      for (const id of ['#rdp-cad', '#rdp-disconnect', '#rdp-refresh']) {
        if (!(await page.locator(id).isDisabled())) throw new Error(`${id} is still enabled after the disconnect`);
      }
      await noErrorBanner(page);
      await shoot('rdp-closed');
    }],
    ['clipboard', async () => {
      // A second desktop whose policy allows clipboard text. The test's side watches this
      // output: after CLIPBOARD_SENT it checks the target's clipboard, after CLIPBOARD_WAITING
      // it copies CLIPBOARD_FROM_TARGET there, which must then show in the panel.
      if (!cfg.clipboard) return;
      const c = cfg.clipboard;
      await openDesktop(c.asset);
      // The engineer watches this session too: clipboard text shows under the live desktop.
      if (!s.watcher) throw new Error('no engineer page to watch with (the live-view step did not run)');
      const clipSession = ((await page.locator('#rdp-session').textContent()) ?? '').trim();
      await s.watcher.goto(`${cfg.url}/#/live/${encodeURIComponent(clipSession)}`);
      await s.watcher.waitForSelector('#live-desktop');
      await until('the live canvas of the clipboard session to draw a frame', 10000, async () =>
        Number(await s.watcher.locator('#live-desktop').getAttribute('data-frames')) >= 1);
      const button = page.locator('#rdp-clipboard');
      if (await button.isHidden()) throw new Error('no Clipboard button although the policy allows the clipboard');
      await button.click();
      await page.waitForSelector('#rdp-clipboard-panel:not([hidden])');
      await page.fill('#rdp-clipboard-text', c.toTarget);
      await page.click('#rdp-clipboard-send');
      await until('#rdp-clipboard-status to say sent', 5000, async () =>
        /^Sent at/.test(await page.locator('#rdp-clipboard-status').innerText()));
      if (!socket.sent.some((t) => t.includes('"clipboard"'))) throw new Error('no clipboard message was sent');
      s.clipboardSessionId = ((await page.locator('#rdp-session').textContent()) ?? '').trim();
      console.log(`CLIPBOARD_SESSION_ID=${s.clipboardSessionId}`);
      console.log('CLIPBOARD_SENT');
      console.log('CLIPBOARD_WAITING');
      await until('the text copied on the desktop in the panel', 20000, async () =>
        (await page.inputValue('#rdp-clipboard-text')) === c.fromTarget);
      const said = await page.locator('#rdp-clipboard-status').innerText();
      if (!/^Copied on the remote desktop/.test(said)) throw new Error(`#rdp-clipboard-status says: ${said}`);
      // Only the vendor's click puts it on the local clipboard.
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: cfg.url });
      const before = await page.evaluate(() => navigator.clipboard.readText());
      if (before === c.fromTarget) throw new Error('the text was on the local clipboard before the vendor clicked Copy');
      await page.click('#rdp-clipboard-copy');
      await until('the local clipboard to hold the copied text', 5000, async () =>
        (await page.evaluate(() => navigator.clipboard.readText())) === c.fromTarget);
      let watched = '';
      await until('the engineer\'s live view to list both clipboard texts', 5000, async () => {
        watched = await s.watcher.locator('#live-clipboard').innerText();
        return watched.includes(`pasted by the vendor: ${c.toTarget}`) &&
          watched.includes(`copied on the target: ${c.fromTarget}`);
      }).catch((error) => { throw new Error(`${error.message}; it lists: ${watched}`); });
      await s.watcher.screenshot({ path: join(cfg.artefacts, 'live-clipboard.png'), fullPage: true });
      await s.engineerContext.close();
      await noErrorBanner(page);
      await shoot('rdp-clipboard');
      await page.click('#rdp-disconnect');
      await until('#rdp-status to say "closed"', 5000, async () => /closed/i.test(await status()));
    }],
    ['drive', async () => {
      if (!cfg.drive) return;
      const d = cfg.drive;
      await openDesktop(d.asset);
      s.driveSessionId = ((await page.locator('#rdp-session').textContent()) ?? '').trim();
      console.log(`DRIVE_SESSION_ID=${s.driveSessionId}`);
      if (d.sound) await playSound(page, d.sound);
      const button = page.locator('#rdp-drive');
      if (await button.isHidden()) throw new Error('no Drive button although the policy allows a drive');
      await button.click();
      await page.waitForSelector('#rdp-drive-panel:not([hidden])');
      const driveStatus = page.locator('#rdp-drive-status');
      // Vendor -> target: a file chosen in the page's file input, 2.5 MiB (ten pieces up; three
      // pieces, each asked for, when saved back below).
      const firmware = Buffer.alloc(2560 * 1024);
      for (let i = 0; i < firmware.length; i += 1) firmware[i] = (i * 13) % 251;
      const firmwareSha = createHash('sha256').update(firmware).digest('hex');
      await page.setInputFiles('#rdp-drive-file', { name: 'fw-e2e.bin', mimeType: 'application/octet-stream', buffer: firmware });
      await page.click('#rdp-drive-put');
      await until('#rdp-drive-status to say the file is on the drive', 15000, async () =>
        (await driveStatus.innerText()).startsWith('fw-e2e.bin is on the drive'));
      const said = await driveStatus.innerText();
      if (!said.includes(firmwareSha)) throw new Error(`#rdp-drive-status does not name the SHA-256: ${said}`);
      await page.waitForSelector('#rdp-drive-files tr[data-name="fw-e2e.bin"]');
      const onTarget = join(d.path, 'fw-e2e.bin');
      await until('the file on the target\'s side of the drive', 20000, async () =>
        existsSync(onTarget) && readFileSync(onTarget).equals(firmware));
      // Saved back from the list: the same bytes, the SHA-256 checked by the page.
      const [again] = await Promise.all([
        page.waitForEvent('download'),
        page.click('#rdp-drive-files tr[data-name="fw-e2e.bin"] button'),
      ]);
      if (!readFileSync(await again.path()).equals(firmware)) throw new Error('fw-e2e.bin saved back differs from what was put');
      await until('#rdp-drive-status to say fw-e2e.bin was saved and checked', 5000, async () => {
        const text = await driveStatus.innerText();
        return text.startsWith('Saved fw-e2e.bin') && text.includes('— checked');
      });
      // Target -> vendor: a file written on the target, saved from the list.
      const report = 'tag;value\nTIC-101;72.5\n';
      writeFileSync(join(d.path, 'report-e2e.csv'), report);
      await until('report-e2e.csv in the drive\'s list', 15000, async () => {
        await page.click('#rdp-drive-refresh');
        return page.locator('#rdp-drive-files tr[data-name="report-e2e.csv"]').count().then((n) => n > 0);
      });
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.click('#rdp-drive-files tr[data-name="report-e2e.csv"] button'),
      ]);
      const saved = readFileSync(await download.path(), 'utf8');
      if (download.suggestedFilename() !== 'report-e2e.csv' || saved !== report) {
        throw new Error(`the saved file is ${download.suggestedFilename()}: ${JSON.stringify(saved)}`);
      }
      await until('#rdp-drive-status to say report-e2e.csv was checked', 5000, async () => {
        const text = await driveStatus.innerText();
        return text.startsWith('Saved report-e2e.csv') && text.includes('— checked');
      });
      await noErrorBanner(page);
      await shoot('rdp-drive');
      await page.click('#rdp-disconnect');
      await until('#rdp-status to say "closed"', 5000, async () => /closed/i.test(await status()));
    }],
    ['print', async () => {
      if (!cfg.print) return;
      await openDesktop(cfg.print.asset);
      s.printSessionId = ((await page.locator('#rdp-session').textContent()) ?? '').trim();
      console.log(`PRINT_SESSION_ID=${s.printSessionId}`);
      // The target prints at once to "Conduit PDF": the panel opens by itself with the document.
      const row = '#rdp-print-files tr[data-name="print-1.pdf"]';
      await page.waitForSelector(row, { timeout: 30000 });
      if (await page.locator('#rdp-drive-panel').isHidden()) throw new Error('the panel did not open for the printed document');
      const label = (await page.locator('#rdp-drive').innerText()).trim();
      if (label !== 'Printed') throw new Error(`the panel's button says ${label}, not Printed (no drive on this desktop)`);
      const [download] = await Promise.all([page.waitForEvent('download'), page.click(`${row} button`)]);
      const pdf = readFileSync(await download.path());
      if (download.suggestedFilename() !== 'print-1.pdf' || pdf.subarray(0, 5).toString() !== '%PDF-') {
        throw new Error(`the saved document is ${download.suggestedFilename()}, starting ${JSON.stringify(pdf.subarray(0, 8).toString())}`);
      }
      const driveStatus = page.locator('#rdp-drive-status');
      await until('#rdp-drive-status to say print-1.pdf was saved and checked', 5000, async () => {
        const text = await driveStatus.innerText();
        return text.startsWith('Saved print-1.pdf') && text.includes('— checked');
      });
      writeFileSync(join(cfg.artefacts, 'print-1.pdf'), pdf);
      console.log(`PRINT_PDF=${join(cfg.artefacts, 'print-1.pdf')}`);
      await noErrorBanner(page);
      await shoot('rdp-print');
      await page.click('#rdp-disconnect');
      await until('#rdp-status to say "closed"', 5000, async () => /closed/i.test(await status()));
    }],
    ['replay', async () => {
      // The auditor replays the sealed recording in the browser: the end of the recording shows
      // what the vendor's canvas showed at the end; its start (the first keyframe) shows the
      // line before anything was typed.
      const auditorContext = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 1150 } });
      try {
        const auditor = await auditorContext.newPage();
        auditor.on('pageerror', (e) => fatalNotes.push(`auditor page: ${e.message}`));
        await signIn(auditor, cfg.auditor, cfg.url);
        // Sealing runs when the session ends: retry the page until the recording is there.
        await until('the recording to open in the replay page', 15000, async () => {
          await auditor.goto(`${cfg.url}/#/replay/${encodeURIComponent(s.sessionId)}`);
          await auditor.reload();
          return auditor.waitForSelector('#replay-desktop', { timeout: 2000 }).then(() => true, () => false);
        });
        await until('the first keyframe drawn', 10000, async () =>
          Number(await auditor.locator('#replay-desktop').getAttribute('data-frames-drawn')) >= 1);
        const start = await measureCanvas(auditor, { ...s.line, canvas: '#replay-desktop' });
        // Seek to the end, as an auditor drags the timeline.
        await auditor.evaluate(() => {
          const t = document.querySelector('#replay-timeline');
          t.value = t.max;
          t.dispatchEvent(new Event('change'));
        });
        let end;
        await until('the replay to show the vendor\'s last picture', 10000, async () => {
          end = await signature(auditor, '#replay-desktop');
          const v = s.finalPicture;
          if (end.width !== v.width || end.height !== v.height) return false;
          const off = end.blocks.filter((b, i) => Math.abs(b - v.blocks[i]) > 4).length;
          s.replayOff = off;
          return off <= end.blocks.length / 200; // at most 0.5 % of blocks differ
        }).catch((error) => { throw new Error(`${error.message}: ${s.replayOff} of ${end?.blocks.length} blocks differ`); });
        const last = await measureCanvas(auditor, { ...s.line, canvas: '#replay-desktop' });
        // At the start the line holds no text: all light (the xterm drawn) or all dark (the
        // shadow server's first frame may come before the xterm is painted); at the end, text.
        const uniform = (m) => m.regionDark === 0 || m.regionDark === m.regionPixels;
        if (!uniform(start) || uniform(last)) {
          throw new Error(`the replay's start should not show the typed line and its end should: start ${start.regionDark}, end ${last.regionDark} of ${last.regionPixels} dark pixels`);
        }
        console.log(`replay: ${s.replayOff} blocks differ from the vendor's last picture; typed line dark pixels ${start.regionDark} -> ${last.regionDark}`);
        await auditor.screenshot({ path: join(cfg.artefacts, 'replay-end.png'), fullPage: true });
        if (s.clipboardSessionId) {
          // The clipboard session's replay lists both texts among its notices.
          const want = [`clipboard, pasted by the vendor: ${cfg.clipboard.toTarget}`,
            `clipboard, copied on the target: ${cfg.clipboard.fromTarget}`];
          let listed = '';
          await until('the clipboard texts among the replay\'s notices', 15000, async () => {
            await auditor.goto(`${cfg.url}/#/replay/${encodeURIComponent(s.clipboardSessionId)}`);
            await auditor.reload();
            if (!(await auditor.waitForSelector('#replay-markers', { timeout: 2000 }).then(() => true, () => false))) return false;
            listed = await auditor.locator('#replay-markers').innerText();
            return want.every((w) => listed.includes(w));
          }).catch((error) => { throw new Error(`${error.message}; the notices say: ${listed}`); });
          await auditor.screenshot({ path: join(cfg.artefacts, 'replay-clipboard.png'), fullPage: true });
        }
        if (s.driveSessionId) {
          // The drive session's replay lists both files, with their SHA-256, in its Files card.
          let listed = '';
          await until('both files in the drive session\'s Files card', 15000, async () => {
            await auditor.goto(`${cfg.url}/#/replay/${encodeURIComponent(s.driveSessionId)}`);
            await auditor.reload();
            if (!(await auditor.waitForSelector('#replay-files-table tbody tr td.hash', { timeout: 3000 }).then(() => true, () => false))) return false;
            listed = await auditor.locator('#replay-files-table').innerText();
            return listed.includes('fw-e2e.bin') && listed.includes('report-e2e.csv');
          }).catch((error) => { throw new Error(`${error.message}; the card says: ${listed}`); });
          await auditor.screenshot({ path: join(cfg.artefacts, 'replay-drive.png'), fullPage: true });
        }
      } finally {
        await auditorContext.close();
      }
    }],
  ];

  let failed = null;
  for (const [name, run] of steps) {
    const started = Date.now();
    try {
      await run();
      if (fatalNotes.length) throw new Error(`the browser reported: ${fatalNotes.join('; ')}`);
      console.log(`PASS ${name} (${Date.now() - started} ms)`);
    } catch (error) {
      failed = name;
      console.log(`FAIL ${name}: ${error.message.split('\n')[0]}`);
      if (error.stack) console.log(error.stack.split('\n').slice(1, 4).join('\n'));
      await page.screenshot({ path: join(cfg.artefacts, `failure-${name}.png`), fullPage: true }).catch(() => {});
      break;
    }
  }
  const unique = [...new Set(notes)];
  if (unique.length) console.log(`the browser noted:\n  ${unique.join('\n  ')}`);
  writeFileSync(join(cfg.artefacts, 'story.json'), JSON.stringify({
    failed, sessionId: s.sessionId, before: s.before, socket: { ...socket, sent: socket.sent.length }, notes: unique,
  }, null, 2));
  await browser.close();
  if (failed) {
    console.log(`rdp story FAILED at ${failed}; screenshots in ${cfg.artefacts}`);
    return 1;
  }
  console.log(`rdp story passed; screenshots in ${cfg.artefacts}`);
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  // A hung browser must not outlive the test: the whole story gets 180 s.
  const watchdog = setTimeout(() => {
    console.log('FAIL watchdog: the story took longer than 180 s');
    process.exit(1);
  }, 180_000);
  watchdog.unref();
  runStory().then((code) => { process.exitCode = code; }).catch((error) => {
    console.log(`FAIL setup: ${error.stack ?? error}`);
    process.exitCode = 1;
  });
}
