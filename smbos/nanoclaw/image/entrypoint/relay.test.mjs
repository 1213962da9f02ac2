import assert from 'node:assert/strict';
import net from 'node:net';
import test from 'node:test';

import { SetupError } from './log.mjs';
import { startRelay } from './relay.mjs';

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

test('a connection is piped to the runtime byte for byte, half-close kept', async () => {
  // The runtime: answers once the request is complete (the client's end), then closes.
  const upstream = net.createServer({ allowHalfOpen: true }, (socket) => {
    let got = '';
    socket.on('data', (chunk) => { got += chunk; });
    socket.on('end', () => socket.end(`heard ${Buffer.byteLength(got)} bytes: ${got}`));
  });
  const httpPort = await listen(upstream);
  const relay = await startRelay({ relayPort: 0, httpPort }, '127.0.0.1');
  try {
    const reply = await new Promise((resolve, reject) => {
      const client = net.connect({ host: '127.0.0.1', port: relay.port, allowHalfOpen: true }, () => client.end('ping\u00e9'));
      let data = '';
      client.on('data', (chunk) => { data += chunk; });
      client.on('end', () => resolve(data));
      client.on('error', reject);
    });
    assert.equal(reply, 'heard 6 bytes: ping\u00e9');
  } finally {
    relay.close();
    upstream.close();
  }
});

test('with no runtime behind it a connection is closed; a port in use is one line', async () => {
  const taken = net.createServer();
  const port = await listen(taken);
  const closed = await startRelay({ relayPort: 0, httpPort: port }, '127.0.0.1');
  taken.close();
  await new Promise((resolve) => net.connect({ host: '127.0.0.1', port: closed.port }).on('close', resolve).on('error', () => {}));
  closed.close();
  const busy = net.createServer();
  const busyPort = await listen(busy);
  await assert.rejects(startRelay({ relayPort: busyPort, httpPort: 1 }, '127.0.0.1'),
    (err) => err instanceof SetupError && err.message === `relay cannot listen on 127.0.0.1:${busyPort}: EADDRINUSE`);
  busy.close();
});
