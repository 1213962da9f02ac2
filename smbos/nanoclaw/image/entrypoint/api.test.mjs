import assert from 'node:assert/strict';
import http from 'node:http';
import test from 'node:test';

import { getJson, sleep } from './api.mjs';

test("NanoClaw's answers are read as JSON; no answer or no JSON is said, never thrown", async () => {
  const server = http.createServer((req, res) => {
    if (req.url === '/api/tasks') return res.end('{"tasks": []}');
    if (req.url === '/slow') return undefined; // never answers
    res.writeHead(404);
    return res.end('not json');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  try {
    assert.deepEqual(await getJson(port, '/api/tasks'), { status: 200, data: { tasks: [] } });
    assert.deepEqual(await getJson(port, '/nope'), { status: 404, data: null });
    assert.deepEqual(await getJson(port, '/slow', 100), { status: 0, data: null });
  } finally {
    server.closeAllConnections();
    server.close();
  }
  assert.deepEqual(await getJson(port, '/api/tasks'), { status: 0, data: null });
});

test('a wait does not keep the process alive, and ends', async () => {
  const alive = setTimeout(() => {}, 1000); // what keeps the process alive in the entrypoint: NanoClaw
  const started = Date.now();
  await sleep(20);
  clearTimeout(alive);
  assert.ok(Date.now() - started >= 15);
});
