// SMBOS agent container healthcheck: GET /api/health through the relay.
// Exit 0 only on HTTP 200 with {"status":"ok"}; anything else (or no answer
// within SMBOS_HEALTH_TIMEOUT_MS, default 3000) exits 1 with a one-line reason.
import http from 'node:http';

const port = Number(process.env.SMBOS_RELAY_PORT || 8080);
const timeoutMs = Number(process.env.SMBOS_HEALTH_TIMEOUT_MS || 3000);

function done(code, message) {
  (code === 0 ? process.stdout : process.stderr).write(`healthcheck: ${message}\n`);
  process.exit(code);
}

setTimeout(() => done(1, `no answer from 127.0.0.1:${port}/api/health within ${timeoutMs} ms`), timeoutMs).unref();

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
