// A NanoClaw stand-in for SMBOS's tests: no dependencies, the same HTTP API,
// configuration sources, data layout and container behaviour as the runtime
// (see tests/standin/README.md). Not an agent: replies describe what it saw.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { checkContainerSystem, runTurn, stopOrphans, WEB_CHAT_FOLDER, WEB_CHAT_JID } from './agent.js';
import { readEnvFile } from './envfile.js';
import { Scheduler } from './scheduler.js';
import { Store } from './store.js';

function log(line) {
  process.stdout.write(`[standin] ${line}\n`);
}

// --- configuration (sources as NanoClaw reads them) --------------------------

const cwd = process.cwd();
const dotenv = readEnvFile(cwd);

// The stand-in's own STANDIN_* knobs: environment first, then .env (so a test can set
// them in an agent's .env without touching the Compose file).
function knob(name) {
  return process.env[name] !== undefined ? process.env[name] : dotenv[name];
}

function intFromEnv(name, fallback) {
  const value = parseInt((name.startsWith('STANDIN_') ? knob(name) : process.env[name]) || '', 10);
  return Number.isFinite(value) && value >= 0 ? value : fallback;
}
// ASSISTANT_NAME and TELEGRAM_BOT_TOKEN: environment first, then .env.
// ANTHROPIC_API_KEY / CLAUDE_CODE_OAUTH_TOKEN: .env only, read per turn (agent.js).
const config = {
  port: intFromEnv('HTTP_PORT', 3100),
  assistantName: process.env.ASSISTANT_NAME || dotenv.ASSISTANT_NAME || 'Andy',
  telegramBotToken: process.env.TELEGRAM_BOT_TOKEN || dotenv.TELEGRAM_BOT_TOKEN || '',
  containerImage: process.env.CONTAINER_IMAGE || 'nanoclaw-agent:latest',
  containerTimeoutMs: intFromEnv('CONTAINER_TIMEOUT', 1800000),
  containerMaxOutput: intFromEnv('CONTAINER_MAX_OUTPUT_SIZE', 10485760),
  schedulerPollMs: Math.max(50, intFromEnv('STANDIN_SCHEDULER_POLL_MS', 60000)),
  ipcPollMs: Math.max(20, intFromEnv('STANDIN_IPC_POLL_MS', 1000)),
  replyDelayMs: intFromEnv('STANDIN_REPLY_DELAY_MS', 100),
  containerMode: false,
};

// The container system, checked at start as NanoClaw does.
const containersWanted = knob('STANDIN_CONTAINERS');
if (containersWanted !== '0') {
  const check = checkContainerSystem();
  if (check.ok) {
    config.containerMode = true;
    log(`container system: ${check.reason}; turns run in containers of ${config.containerImage}`);
    stopOrphans(log);
  } else if (containersWanted === '1') {
    log(`FATAL: container system unavailable (${check.reason})`);
    process.exit(1);
  } else {
    log(`container system unavailable (${check.reason}); turns run in-process`);
  }
}

const store = new Store(cwd);
try {
  store.open();
} catch (err) {
  log(`FATAL: cannot open the store: ${err.message}`);
  process.exit(1);
}
fs.mkdirSync(path.join(cwd, 'groups', WEB_CHAT_FOLDER, 'logs'), { recursive: true });
fs.mkdirSync(path.join(cwd, 'data', 'ipc', WEB_CHAT_FOLDER, 'tasks'), { recursive: true });
// With a token, the patched runtime records its Telegram channel as `connecting` and, with
// api.telegram.org out of reach, stays there (grammy retries for ever); the stand-in never
// connects, so it records the same and nothing more (never the token).
if (config.telegramBotToken) {
  const file = path.join(cwd, 'data', 'smbos-telegram.json');
  fs.writeFileSync(`${file}.tmp`, JSON.stringify({ state: 'connecting', at: new Date().toISOString() }) + '\n');
  fs.renameSync(`${file}.tmp`, file);
}
store.registerGroup({
  jid: WEB_CHAT_JID,
  name: 'Web Chat',
  folder: WEB_CHAT_FOLDER,
  trigger_pattern: '',
});

const scheduler = new Scheduler({ store, config, log });

// --- faults --------------------------------------------------------------------

const FAULT_FILE = path.join(cwd, '.standin-fault');

/** The fault in force: the file's first line, else STANDIN_FAULT; null when normal. */
function currentFault() {
  let text;
  try {
    text = fs.readFileSync(FAULT_FILE, 'utf8');
  } catch {
    text = knob('STANDIN_FAULT') || '';
  }
  const words = (text.split('\n')[0] || '').trim().split(/\s+/).filter(Boolean);
  if (!words.length) return null;
  const [mode, arg] = words;
  const number = parseInt(arg || '', 10);
  switch (mode) {
    case 'slow':
      return { mode, ms: Number.isFinite(number) ? number : 1000 };
    case 'exit':
    case 'exit-once':
      return { mode, code: Number.isFinite(number) ? number : 1 };
    case '500':
    case 'hang':
    case 'malformed':
    case 'partial':
    case 'unhealthy':
      return { mode };
    default:
      return { mode: 'unknown', text: mode };
  }
}

// --- HTTP API --------------------------------------------------------------------

function sendJson(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

function sendEmpty(res, status) {
  res.writeHead(status);
  res.end();
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sse(res, event, data) {
  if (res.writableEnded || res.destroyed) return;
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function appendTurnLog(entry) {
  const file = path.join(cwd, 'groups', WEB_CHAT_FOLDER, 'logs', 'web-chat.jsonl');
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.appendFileSync(file, `${JSON.stringify(entry)}\n`);
  } catch (err) {
    log(`cannot append to ${file}: ${err.message}`);
  }
}

async function handleChat(req, res) {
  // As NanoClaw reads the body, in one try: a TypeError (`null.message`, a `message` that is
  // not a string) is "Invalid JSON" too.
  const body = await readBody(req);
  let message;
  try {
    message = JSON.parse(body).message;
    if (!message?.trim()) return sendJson(res, 400, { error: 'message is required' });
  } catch {
    return sendJson(res, 400, { error: 'Invalid JSON' });
  }

  req.socket.setNoDelay(true);
  res.writeHead(200, {
    'Content-Type': 'text/event-stream',
    'Cache-Control': 'no-cache',
    Connection: 'keep-alive',
  });
  sse(res, 'typing', {});
  const started = Date.now();
  store.ensureSession(WEB_CHAT_FOLDER);
  store.addMessage({
    chat_jid: WEB_CHAT_JID,
    sender: 'User',
    sender_name: 'User',
    content: message,
    is_from_me: 0,
    is_bot_message: 0,
  });
  await delay(config.replyDelayMs);
  let result;
  if (message.trim() === 'standin:error') {
    result = { ok: false, error: 'standin: error requested by the message' };
  } else {
    try {
      result = await runTurn(config, WEB_CHAT_FOLDER, message);
    } catch (err) {
      result = { ok: false, error: `standin: ${err.message}` };
    }
  }
  if (result.ok) {
    store.addMessage({
      chat_jid: WEB_CHAT_JID,
      sender: 'bot',
      sender_name: config.assistantName,
      content: result.text,
      is_from_me: 1,
      is_bot_message: 1,
    });
    sse(res, 'message', { text: result.text });
  } else {
    sse(res, 'error', { text: result.error });
  }
  appendTurnLog({
    time: new Date().toISOString(),
    duration_ms: Date.now() - started,
    prompt: message,
    reply: result.ok ? result.text : null,
    error: result.ok ? null : result.error,
  });
  sse(res, 'done', {});
  res.end();
}

function handleGet(route, url, res, fault) {
  if (fault && fault.mode === 'malformed') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end('{"status": "ok", "tasks": [ this is not json');
    return;
  }
  if (route === 'health') {
    if (fault && fault.mode === 'unhealthy') return sendJson(res, 503, { status: 'unhealthy' });
    return sendJson(res, 200, { status: 'ok' });
  }
  if (route === 'state') {
    const tasks = store.tasks();
    const count = (s) => tasks.filter((t) => t.status === s).length;
    return sendJson(res, 200, {
      dbExists: store.exists(),
      sessions: Object.keys(store.state.sessions).length,
      groups: store.state.groups.map((g) => ({
        jid: g.jid,
        name: g.name,
        folder: g.folder,
        trigger_pattern: g.trigger_pattern,
        added_at: g.added_at,
      })),
      taskStats: { total: tasks.length, active: count('active'), paused: count('paused'), completed: count('completed') },
    });
  }
  if (route === 'tasks') {
    return sendJson(res, 200, { tasks: store.tasks(), runLogs: store.runLogs() });
  }
  if (route === 'messages') {
    // As NanoClaw's `LIMIT ?`: 0 gives none, a negative number all, not a number fails (the
    // route's catch answers an empty page).
    const limit = parseInt(url.searchParams.get('limit') || '200', 10);
    if (Number.isNaN(limit)) return sendJson(res, 200, { messages: [] });
    const rows = store.messages(WEB_CHAT_JID, limit < 0 ? Infinity : limit);
    return sendJson(res, 200, {
      messages: rows.map((m) => ({
        id: m.id,
        sender: m.sender,
        sender_name: m.sender_name,
        content: m.content,
        timestamp: m.timestamp,
        is_from_me: m.is_from_me,
        is_bot_message: m.is_bot_message,
      })),
    });
  }
  return sendEmpty(res, 404);
}

/** Which route a request names, as NanoClaw matches `req.url` (path and query string): exactly,
 * except messages, whose prefix is enough; null for none. */
function routeOf(req) {
  if (req.method === 'GET' && req.url === '/api/health') return 'health';
  if (req.method === 'GET' && req.url === '/api/tasks') return 'tasks';
  if (req.method === 'GET' && req.url === '/api/state') return 'state';
  if (req.method === 'GET' && req.url.startsWith('/api/messages')) return 'messages';
  if (req.method === 'POST' && req.url === '/api/chat') return 'chat';
  return null;
}

async function handle(req, res) {
  const started = Date.now();
  const url = new URL(req.url, 'http://127.0.0.1');
  res.on('finish', () => log(`${req.method} ${url.pathname} ${res.statusCode} ${Date.now() - started}ms`));

  const fault = currentFault();
  if (fault && (fault.mode === 'exit' || fault.mode === 'exit-once')) {
    log(`${req.method} ${url.pathname} -> fault: exit ${fault.code}`);
    if (fault.mode === 'exit-once') fs.rmSync(FAULT_FILE, { force: true });
    process.exit(fault.code);
  }
  if (fault && fault.mode === 'hang') {
    log(`${req.method} ${url.pathname} -> fault: hang`);
    return;
  }
  if (fault && fault.mode === 'unknown') log(`unknown fault "${fault.text}" ignored`);
  if (fault && fault.mode === 'slow') await delay(fault.ms);

  const origin = req.headers.origin;
  if (origin) {
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Vary', 'Origin');
    res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'Content-Type');
  }
  if (fault && fault.mode === '500') return sendJson(res, 500, { error: 'standin fault: 500' });
  if (req.method === 'OPTIONS') return sendEmpty(res, 204);

  let route = routeOf(req);
  if (fault && fault.mode === 'partial' && route !== 'health' && route !== 'chat') route = null;
  if (route === null) return sendEmpty(res, 404);
  if (route === 'chat') return handleChat(req, res);
  return handleGet(route, url, res, fault);
}

const sockets = new Set();
const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    log(`error: ${err.message}`);
    if (!res.headersSent) sendEmpty(res, 500);
    else res.end();
  });
});
server.on('connection', (socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
});
server.on('error', (err) => {
  log(`FATAL: cannot listen on 127.0.0.1:${config.port}: ${err.message}`);
  process.exit(1);
});
server.listen(config.port, '127.0.0.1', () => {
  log(
    `listening on 127.0.0.1:${config.port} assistant=${config.assistantName} ` +
      `isolation=${config.containerMode ? 'container' : 'in-process'} ` +
      `telegram=${config.telegramBotToken ? 'on' : 'off'} tz=${process.env.TZ || 'none'}`,
  );
  scheduler.startIpcWatcher();
  scheduler.startSchedulerLoop();
});

function shutdown(signal) {
  log(`${signal}: shutting down`);
  scheduler.stop();
  server.close();
  for (const socket of sockets) socket.destroy();
  try {
    store.save();
  } catch (err) {
    log(`cannot save the store: ${err.message}`);
  }
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
