// SMBOS agent container healthcheck (`node /opt/smbos/healthcheck.mjs`, the Compose service's
// and the image's HEALTHCHECK): GET /api/health through the relay. Exit 0 only on HTTP 200 with
// {"status":"ok"}; anything else (or no answer within SMBOS_HEALTH_TIMEOUT_MS, default 3000)
// exits 1 with a one-line reason.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { CONTAINER, ENV } from './entrypoint/interface.mjs';

export const TIMEOUT_KEY = 'SMBOS_HEALTH_TIMEOUT_MS';

/** The relay's health: {code: 0|1, message}; never rejects. */
export function checkHealth(port, timeoutMs) {
  return new Promise((resolve) => {
    let settled = false;
    const done = (code, message) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ code, message });
    };
    const timer = setTimeout(() => done(1, `no answer from 127.0.0.1:${port}/api/health within ${timeoutMs} ms`), timeoutMs);
    timer.unref();
    const req = http.get({ host: '127.0.0.1', port, path: '/api/health', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        if (body.length < 4096) body += chunk;
      });
      res.on('end', () => {
        if (res.statusCode !== 200) return done(1, `/api/health answered ${res.statusCode}`);
        let parsed;
        try {
          parsed = JSON.parse(body);
        } catch {
          return done(1, '/api/health answered 200 with a body that is not JSON');
        }
        if (!parsed || parsed.status !== 'ok') return done(1, '/api/health answered 200 without {"status":"ok"}');
        return done(0, 'ok');
      });
      res.on('error', (err) => done(1, `/api/health: ${err.message}`));
    });
    req.on('error', (err) => done(1, `cannot reach 127.0.0.1:${port}: ${err.code || err.message}`));
  });
}

if (process.argv[1] && fs.realpathSync(path.resolve(process.argv[1])) === fileURLToPath(import.meta.url)) {
  const port = Number(process.env[ENV.relay_port] || CONTAINER.relay_port);
  const timeoutMs = Number(process.env[TIMEOUT_KEY] || 3000);
  checkHealth(port, timeoutMs).then(({ code, message }) => {
    (code === 0 ? process.stdout : process.stderr).write(`healthcheck: ${message}\n`);
    process.exit(code);
  });
}
