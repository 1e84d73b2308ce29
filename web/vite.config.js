import { defineConfig } from 'vite';

// `hexcover serve STUDY --web web/dist` serves the build at `/`: every asset
// path is relative so the page also works under a prefix or from a copy.
export default defineConfig({
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // MapLibre alone is about 1 MB minified; that is expected, not a warning.
    chunkSizeWarningLimit: 1600,
    // The MapLibre worker is emitted as its own file, never inlined.
    assetsInlineLimit: 0,
    rollupOptions: {
      output: {
        // The worker is an ES module; name it `.js` so every static server sends
        // it as JavaScript (some map only `.js`, not `.mjs`, to text/javascript).
        assetFileNames: (asset) => {
          const name = (asset.names && asset.names[0]) || asset.name || '';
          return name.endsWith('.mjs') ? 'assets/[name]-[hash].js' : 'assets/[name]-[hash][extname]';
        },
      },
    },
  },
  server: {
    // `npm run dev` against a running `hexcover serve` on the default port.
    proxy: { '/api': 'http://127.0.0.1:8080', '/healthz': 'http://127.0.0.1:8080' },
  },
});
