// A fake Anthropic Messages API for the real-runtime tests (Node standard library only).
//
// Runs in a container on the agents' networks (alias `fake-anthropic`), so per-turn containers
// reach it as ANTHROPIC_BASE_URL=http://fake-anthropic:8080; the tests read what it received
// through a port published on 127.0.0.1.
//
//   POST /v1/messages[?beta=true]      a reply; streamed (SSE) when the body says "stream": true
//   POST /v1/messages/count_tokens     {"input_tokens": N}
//   GET  /_fake/requests               every request received: [{method, path, body, at}]
//   POST /_fake/reset                  forget them
//
// The reply text is `FAKE-REPLY: <the last user message>`, where the user message is the text
// inside NanoClaw's <message ...>...</message> wrapper when there is one (HTML entities
// decoded). A message containing `fake:fail` gets an HTTP 500 (an API error), and one containing
// `fake:slow` waits FAKE_SLOW_MS (default 20000) before replying.
import http from 'node:http';

const PORT = Number(process.env.FAKE_PORT || 8080);
const SLOW_MS = Number(process.env.FAKE_SLOW_MS || 20000);
const received = [];

function lastUserText(body) {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  for (let i = messages.length - 1; i >= 0; i -= 1) {
    const m = messages[i];
    if (m.role !== 'user') continue;
    const parts = (typeof m.content === 'string' ? [m.content]
      : (m.content || []).filter((c) => c.type === 'text').map((c) => c.text))
      .filter((t) => !t.trim().startsWith('<system-reminder>'));
    const text = parts.join('\n');
    if (!text.trim()) continue;
    const wrapped = [...text.matchAll(/<message [^>]*>([\s\S]*?)<\/message>/g)];
    if (wrapped.length) {
      return wrapped[wrapped.length - 1][1]
        .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"')
        .replace(/&#39;/g, "'").replace(/&amp;/g, '&');
    }
    return text.replace(/<system-reminder>[\s\S]*?<\/system-reminder>/g, '').trim();
  }
  return '';
}

function sse(res, event, data) {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

function reply(res, body, text) {
  const id = `msg_fake_${Date.now()}`;
  const model = body.model || 'claude-fake';
  const usage = { input_tokens: 10, output_tokens: Math.max(1, text.length >> 2) };
  if (!body.stream) {
    res.writeHead(200, { 'content-type': 'application/json', 'request-id': `req_${id}` });
    res.end(JSON.stringify({
      id, type: 'message', role: 'assistant', model,
      content: [{ type: 'text', text }], stop_reason: 'end_turn', stop_sequence: null, usage,
    }));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache',
    'request-id': `req_${id}` });
  sse(res, 'message_start', { type: 'message_start', message: {
    id, type: 'message', role: 'assistant', model, content: [], stop_reason: null,
    stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1 } } });
  sse(res, 'content_block_start', { type: 'content_block_start', index: 0,
    content_block: { type: 'text', text: '' } });
  sse(res, 'content_block_delta', { type: 'content_block_delta', index: 0,
    delta: { type: 'text_delta', text } });
  sse(res, 'content_block_stop', { type: 'content_block_stop', index: 0 });
  sse(res, 'message_delta', { type: 'message_delta',
    delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: usage.output_tokens } });
  sse(res, 'message_stop', { type: 'message_stop' });
  res.end();
}

const server = http.createServer((req, res) => {
  let raw = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => { raw += chunk; });
  req.on('end', () => {
    const path = (req.url || '').split('?')[0];
    if (req.method === 'GET' && path === '/_fake/requests') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(received));
      return;
    }
    if (req.method === 'POST' && path === '/_fake/reset') {
      received.length = 0;
      res.writeHead(204);
      res.end();
      return;
    }
    let body = {};
    try {
      body = raw ? JSON.parse(raw) : {};
    } catch {
      body = { unparsed: raw.slice(0, 1000) };
    }
    received.push({ method: req.method, path, body, at: new Date().toISOString() });
    if (received.length > 500) received.shift();
    process.stdout.write(`[fake-anthropic] ${req.method} ${req.url}\n`);
    if (req.method === 'POST' && path === '/v1/messages/count_tokens') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ input_tokens: Math.max(1, raw.length >> 2) }));
      return;
    }
    if (req.method === 'POST' && path === '/v1/messages') {
      const user = lastUserText(body);
      if (user.includes('fake:fail')) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: 'fake failure' } }));
        return;
      }
      const text = `FAKE-REPLY: ${user.trim() || '(no user text)'}`;
      const delay = user.includes('fake:slow') ? SLOW_MS : 0;
      setTimeout(() => reply(res, body, text), delay);
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: path } }));
  });
});

server.listen(PORT, '0.0.0.0', () => process.stdout.write(`[fake-anthropic] listening on ${PORT}\n`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
