// NanoClaw's web API as the entrypoint asks it, on its own loopback port: what it reports once
// it answers (its tasks, its chats).
import http from 'node:http';

/** GET `route` on 127.0.0.1:`port`: {status, data} (status 0 when nothing answered, data null
 * when the body is not JSON). Never rejects. */
export function getJson(port, route, timeoutMs = 3000) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: route, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode, data: JSON.parse(body || 'null') });
        } catch {
          resolve({ status: res.statusCode, data: null });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, data: null }));
  });
}

/** Waits `ms`, without keeping the process alive. */
export const sleep = (ms) => new Promise((r) => { setTimeout(r, ms).unref(); });
