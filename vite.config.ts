// Builds the UI (renderer/) into dist/renderer for web mode and the desktop window. Relative asset URLs
// (`base: './'`), so the same build loads from http:// (web mode) and from the app:// protocol (Electron).
import tailwindcss from '@tailwindcss/vite';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  root: 'renderer',
  base: './',
  plugins: [react(), tailwindcss()],
  build: {
    outDir: '../dist/renderer',
    emptyOutDir: true,
    target: 'es2023',
    // One CSS file and no inline module preload polyfill: the CSP allows no inline script or style.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
