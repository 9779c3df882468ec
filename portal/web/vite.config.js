import { defineConfig } from 'vite';

// The portal serves only /, /index.html and /assets/* from dist, under a strict
// Content-Security-Policy (script-src 'self' 'wasm-unsafe-eval'; no inline scripts, no eval;
// style-src 'self' 'unsafe-inline' for the <style> elements xterm.js adds).
export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    // 0: every asset becomes a file under /assets; CSP font-src/default-src 'self' refuses data: fonts.
    assetsInlineLimit: 0,
    // Every supported browser has <link rel=modulepreload>; the polyfill is dead weight.
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
  },
  server: {
    // `npm run dev` against a running broker (./scripts/run.sh listens on 8443, self-signed).
    proxy: {
      '/api': {
        target: process.env.CONDUIT_PORTAL_URL ?? 'https://127.0.0.1:8443',
        secure: false,
        changeOrigin: false,
      },
    },
  },
});
