// A fake Telegram Bot API for the real-runtime tests (Node standard library only).
//
// Runs in a container on an agent's network with the network alias `api.telegram.org`, serving
// HTTPS on 443 with a certificate for that name signed by the tier's test CA (which the runtime
// image trusts through `smbos build --ca-cert`), so NanoClaw's own Telegram bot (grammy) talks
// to it unchanged. The tests drive it through plain HTTP on 8080, published on 127.0.0.1:
//
//   GET  /_fake/calls      every Bot API call received: [{method, token_ok, body, at}]
//   POST /_fake/message    {"chat_id": N, "text": "..."}: a user's message, delivered through
//                          getUpdates like Telegram's own long polling
//
// Bot API: getMe, deleteWebhook, getUpdates (long polling, honours offset and timeout),
// sendMessage, editMessageText, sendChatAction; any other method answers {"ok": true}. A call
// with another token than FAKE_TELEGRAM_TOKEN gets 401 Unauthorized, as Telegram answers.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

const TOKEN = process.env.FAKE_TELEGRAM_TOKEN || '';
const CERT_DIR = process.env.FAKE_CERT_DIR || '/ca';
const BOT = { id: 777000111, is_bot: true, first_name: 'SMBOS Test Bot', username: 'smbos_test_bot',
  can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false };

const calls = [];
const updates = [];
let nextUpdateId = 1;
let nextMessageId = 1000;
let waiters = [];

function log(text) {
  process.stdout.write(`[fake-telegram] ${text}\n`);
}

function json(res, status, data) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(data));
}

function readBody(req) {
  return new Promise((resolve) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => { raw += chunk; });
    req.on('end', () => {
      if (!raw) return resolve({});
      try {
        return resolve(JSON.parse(raw));
      } catch {
        return resolve(Object.fromEntries(new URLSearchParams(raw)));
      }
    });
  });
}

function pending(offset) {
  return updates.filter((u) => u.update_id >= offset);
}

function wake() {
  const ready = waiters;
  waiters = [];
  for (const waiter of ready) waiter();
}

async function getUpdates(body) {
  const offset = Number(body.offset || 0);
  // Telegram forgets updates once a later offset confirms them.
  while (updates.length && updates[0].update_id < offset) updates.shift();
  const limit = Number(body.limit || 100);
  const timeout = Math.min(Number(body.timeout || 0), 20) * 1000;
  if (!pending(offset).length && timeout > 0) {
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, timeout);
      waiters.push(() => { clearTimeout(timer); resolve(); });
    });
  }
  return pending(offset).slice(0, limit);
}

function message(chatId, text, from) {
  nextMessageId += 1;
  return { message_id: nextMessageId, date: Math.floor(Date.now() / 1000),
    chat: { id: Number(chatId), type: 'private', first_name: 'Tester' }, from, text };
}

async function botApi(req, res, token, method) {
  const body = await readBody(req);
  const tokenOk = token === TOKEN;
  calls.push({ method, token_ok: tokenOk, body, at: new Date().toISOString() });
  if (calls.length > 1000) calls.shift();
  log(`${method}${tokenOk ? '' : ' (wrong token)'}`);
  if (!tokenOk) return json(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
  switch (method) {
    case 'getMe':
      return json(res, 200, { ok: true, result: BOT });
    case 'getUpdates':
      return json(res, 200, { ok: true, result: await getUpdates(body) });
    case 'sendMessage':
      return json(res, 200, { ok: true, result: message(body.chat_id, String(body.text || ''), BOT) });
    case 'editMessageText':
      return json(res, 200, { ok: true, result: { ...message(body.chat_id, String(body.text || ''), BOT),
        message_id: Number(body.message_id) } });
    default:
      return json(res, 200, { ok: true, result: true });
  }
}

const api = https.createServer({
  cert: fs.readFileSync(`${CERT_DIR}/server.crt`),
  key: fs.readFileSync(`${CERT_DIR}/server.key`),
}, (req, res) => {
  const match = /^\/bot([^/]+)\/([A-Za-z]+)/.exec(req.url || '');
  if (!match) return json(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
  return botApi(req, res, decodeURIComponent(match[1]), match[2]).catch((err) => {
    log(`error: ${err.message}`);
    json(res, 500, { ok: false, error_code: 500, description: 'fake failure' });
  });
});

const control = http.createServer(async (req, res) => {
  const path = (req.url || '').split('?')[0];
  if (req.method === 'GET' && path === '/_fake/calls') return json(res, 200, calls);
  if (req.method === 'POST' && path === '/_fake/message') {
    const body = await readBody(req);
    const from = { id: Number(body.chat_id), is_bot: false, first_name: 'Tester' };
    const update = { update_id: nextUpdateId, message: message(body.chat_id, String(body.text || ''), from) };
    nextUpdateId += 1;
    updates.push(update);
    wake();
    return json(res, 200, update);
  }
  return json(res, 404, { error: path });
});

api.listen(443, '0.0.0.0', () => log('Bot API on 443 (https)'));
control.listen(8080, '0.0.0.0', () => log('control on 8080'));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
