import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The production build goes where the gateway embeds it (gateway/web),
// served under /workbench/ on the API's origin; `npm run dev` proxies the
// API to a running gateway.
export default defineConfig({
  plugins: [react()],
  base: '/workbench/',
  build: {
    outDir: '../../gateway/web/workbench',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
  },
  server: {
    proxy: { '/v1': process.env.TONGBAN_GATEWAY || 'http://127.0.0.1:8080' },
  },
});
