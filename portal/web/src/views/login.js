// #/login: the login banner (IEC 62443 SR 1.12), password, then TOTP (enrolling it on first use).
import { get, post, setCsrf } from '../api.js';
import { h, replace } from '../dom.js';
import { busy, field, showError } from '../ui.js';

/// The QR code arrives as SVG text; an <img> with a data: URL renders it without parsing it into
/// the page (no scripts, no markup from the response can reach the DOM).
function svgDataUrl(svg) {
  const bytes = new TextEncoder().encode(svg);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return `data:image/svg+xml;base64,${btoa(binary)}`;
}

export function renderLogin(root, context, { signedIn }) {
  const bannerBox = h('div', { class: 'login-banner', id: 'login-banner', hidden: true },
    h('h2', { class: 'visually-hidden' }, 'Notice'),
    h('p', { class: 'login-banner-text' }));
  const stepBox = h('div', { class: 'login-step' });
  root.append(h('div', { class: 'login-page' },
    bannerBox,
    h('section', { class: 'card login-card', 'aria-labelledby': 'login-title' },
      h('h1', { id: 'login-title', class: 'login-title' }, 'Sign in to Conduit'),
      stepBox)));

  get('/api/v1/banner', { expect401: true })
    .then((data) => {
      if (!context.alive || !data?.banner) return;
      bannerBox.querySelector('.login-banner-text').textContent = data.banner;
      bannerBox.hidden = false;
    })
    .catch((error) => { if (context.alive) showError(`The login banner could not be loaded: ${error.message}`); });

  passwordStep();

  function passwordStep() {
    const username = h('input', { id: 'login-username', name: 'username', type: 'text', autocomplete: 'username',
      required: true, autocapitalize: 'none', spellcheck: 'false' });
    const password = h('input', { id: 'login-password', name: 'password', type: 'password',
      autocomplete: 'current-password', required: true });
    const submit = h('button', { id: 'login-submit', type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in');
    const form = h('form', { id: 'login-form', class: 'stack' },
      field('Username', username), field('Password', password), submit);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const result = await busy(submit, () => post('/api/v1/login',
        { username: username.value.trim(), password: password.value }, { expect401: true }));
      if (!result || !context.alive) {
        password.value = '';
        password.focus();
        return;
      }
      setCsrf(result.csrf);
      if (result.next === 'enrol') await enrolStep(submit);
      else if (result.next === 'totp') codeStep(null);
      else showError(`Unexpected sign-in step “${result.next}”.`);
    });
    replace(stepBox, form);
    username.focus();
  }

  async function enrolStep(button) {
    const enrolment = await busy(button, () => post('/api/v1/login/enrol', {}, { expect401: true }));
    if (!enrolment || !context.alive) return;
    const intro = h('div', { class: 'enrol' },
      h('h2', { class: 'step-title' }, 'Set up your authenticator'),
      h('p', {}, 'Scan this code with your authenticator app, then enter the 6-digit code it shows. ',
        'This QR code is shown only once: do not reload the page.'),
      h('img', { id: 'enrol-qr', class: 'enrol-qr', src: svgDataUrl(enrolment.qr_svg ?? ''),
        alt: 'QR code of the TOTP seed for your authenticator app', width: 200, height: 200 }),
      h('div', { class: 'enrol-manual' },
        h('p', {}, 'Cannot scan? Enter this in the app by hand:'),
        h('code', { id: 'enrol-uri', class: 'enrol-uri' }, enrolment.otpauth_uri ?? '')));
    codeStep(intro);
  }

  function codeStep(intro) {
    const code = h('input', { id: 'totp-code', name: 'code', type: 'text', inputmode: 'numeric',
      autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: 6, minlength: 6, required: true,
      class: 'code-input' });
    const submit = h('button', { id: 'totp-submit', type: 'submit', class: 'btn btn-primary btn-block' }, 'Verify');
    const form = h('form', { id: 'totp-form', class: 'stack' },
      field('Authentication code', code, { hint: 'The 6-digit code from your authenticator app.' }),
      submit,
      h('button', { type: 'button', class: 'btn-link', id: 'login-restart', onclick: passwordStep }, 'Start over'));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const value = code.value.replace(/\s+/g, '');
      const result = await busy(submit, () => post('/api/v1/login/totp', { code: value }, { expect401: true }));
      if (!result || !context.alive) {
        code.value = '';
        code.focus();
        return;
      }
      signedIn(result.user, result.csrf);
    });
    replace(stepBox, intro, form);
    if (!intro) code.focus();
  }
}
