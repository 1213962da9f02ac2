import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import test from 'node:test';

import { checkHealth } from './healthcheck.mjs';

const HEALTHCHECK = new URL('./healthcheck.mjs', import.meta.url).pathname;

async function runtime(answer) {
  const server = http.createServer(answer);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

test('healthy only on 200 with {"status":"ok"}; every other answer is one reason', async () => {
  const answers = {
    '{"status":"ok"}': { code: 0, message: 'ok' },
    '{"status":"starting"}': { code: 1, message: '/api/health answered 200 without {"status":"ok"}' },
    'null': { code: 1, message: '/api/health answered 200 without {"status":"ok"}' },
    'oops': { code: 1, message: '/api/health answered 200 with a body that is not JSON' },
  };
  let body = '';
  const server = await runtime((req, res) => (req.url === '/api/health' ? res.end(body) : res.end()));
  const { port } = server.address();
  try {
    for (const [text, expected] of Object.entries(answers)) {
      body = text;
      assert.deepEqual(await checkHealth(port, 2000), expected, text);
    }
  } finally {
    server.close();
  }
  const failing = await runtime((req, res) => { res.writeHead(503); res.end('{"status":"ok"}'); });
  assert.deepEqual(await checkHealth(failing.address().port, 2000), { code: 1, message: '/api/health answered 503' });
  failing.close();
  assert.deepEqual(await checkHealth(port, 2000), { code: 1, message: `cannot reach 127.0.0.1:${port}: ECONNREFUSED` });
});

test('no answer in time is unhealthy, saying how long it waited', async () => {
  const silent = await runtime(() => {});
  const { port } = silent.address();
  assert.deepEqual(await checkHealth(port, 100), { code: 1, message: `no answer from 127.0.0.1:${port}/api/health within 100 ms` });
  silent.closeAllConnections();
  silent.close();
});

test('as a program it reads the relay port and the timeout from the environment and exits 0 or 1', async () => {
  const server = await runtime((req, res) => res.end('{"status":"ok"}'));
  const run = (env) => new Promise((resolve) => {
    execFile(process.execPath, [HEALTHCHECK], { env: { PATH: process.env.PATH, ...env } }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }));
  });
  const { port } = server.address();
  assert.deepEqual(await run({ SMBOS_RELAY_PORT: String(port) }), { code: 0, stdout: 'healthcheck: ok\n', stderr: '' });
  server.close();
  const down = await run({ SMBOS_RELAY_PORT: String(port), SMBOS_HEALTH_TIMEOUT_MS: '500' });
  assert.deepEqual(down, { code: 1, stdout: '', stderr: `healthcheck: cannot reach 127.0.0.1:${port}: ECONNREFUSED\n` });
});
