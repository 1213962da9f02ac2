// Step 5a: the relay. NanoClaw binds its web API to 127.0.0.1 only; the relay listens on
// 0.0.0.0:SMBOS_RELAY_PORT (the port the Compose file publishes, on the host's loopback) and
// pipes each connection to 127.0.0.1:HTTP_PORT, byte for byte (half-close kept, so a streamed
// chat ends as NanoClaw ends it).
import net from 'node:net';

import { SetupError } from './log.mjs';

/** Listens on `host`:`cfg.relayPort` (resolves once it does: a handle whose `close()` drops every
 * connection, and the port it listens on); rejects with a SetupError when it cannot. */
export function startRelay(cfg, host = '0.0.0.0') {
  const sockets = new Set();
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: cfg.httpPort, allowHalfOpen: true });
    sockets.add(client);
    sockets.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', () => {
      sockets.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => {
      sockets.delete(upstream);
      if (!client.writableEnded) client.end();
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new SetupError(`relay cannot listen on ${host}:${cfg.relayPort}: ${err.code || err.message}`)));
    server.listen(cfg.relayPort, host, () => {
      resolve({
        port: server.address().port,
        close() {
          server.close();
          for (const s of sockets) s.destroy();
        },
      });
    });
  });
}
