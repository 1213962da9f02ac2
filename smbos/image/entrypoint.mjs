// SMBOS agent container entrypoint (docs/container-interface.md, "What the image does at start").
// Runs as the non-root user 1000:1000. Node standard library only.
//
//   1. instance directory: store/ -> SMBOS_STORE_DIR, groups/web-chat -> SMBOS_MEMORY_DIR, data/
//   2. identity: the body of agent.md into the managed block of groups/web-chat/CLAUDE.md
//   3. secrets: /smbos/agent/.env copied to <instance>/.env, mode 600 (without
//      TELEGRAM_BOT_TOKEN when channels.telegram is off); the declared Telegram chats queued for
//      registration through NanoClaw's IPC (channels.mjs)
//   3d. agent teams: runtime.swarms in every group's Claude settings, the team/ members installed
//      as the groups' subagents (teams.mjs)
//   4. NanoClaw's container/agent-runner/src copied into the instance directory
//   5. relay 0.0.0.0:SMBOS_RELAY_PORT -> 127.0.0.1:HTTP_PORT, then NanoClaw; signals forwarded,
//      exits with NanoClaw's exit code
//   6. once NanoClaw answers: SMBOS_SCHEDULES reconciled with its /api/tasks through its IPC
//
// Every failure is one line on stderr; no secret value is ever printed.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { TOKEN_KEY, checkChats, parseTelegram, prepareChats, withoutToken } from './channels.mjs';
import { parseAgentTeams, prepareTeams } from './teams.mjs';

const NAME = 'smbos-entrypoint';
const BEGIN = '<!-- smbos:identity:begin -->';
const END = '<!-- smbos:identity:end -->';
const WEB_CHAT_FOLDER = 'web-chat';
const WEB_CHAT_JID = 'web-chat@smbos';

class SetupError extends Error {}

function info(message) {
  process.stdout.write(`${NAME}: ${message}\n`);
}

function fail(message) {
  throw new SetupError(message);
}

function whoami() {
  const uid = typeof process.getuid === 'function' ? process.getuid() : '?';
  const gid = typeof process.getgid === 'function' ? process.getgid() : '?';
  return `uid ${uid} gid ${gid}`;
}

function describe(file) {
  try {
    const st = fs.statSync(file);
    return `owner uid ${st.uid} gid ${st.gid}, mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}`;
  } catch (err) {
    return err.code === 'ENOENT' ? 'does not exist' : err.code || err.message;
  }
}

/** A readable reason for a file-system error on `file`. */
function fsProblem(err, file, verb) {
  if (err.code === 'EACCES' || err.code === 'EPERM') {
    return `cannot ${verb} ${file}: permission denied (running as ${whoami()}; ${describe(file)})`;
  }
  if (err.code === 'EROFS') return `cannot ${verb} ${file}: read-only file system`;
  return `cannot ${verb} ${file}: ${err.code || err.message}`;
}

function attempt(verb, file, fn) {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SetupError) throw err;
    fail(fsProblem(err, file, verb));
  }
}

function absoluteEnv(name, fallback) {
  const value = process.env[name] || fallback;
  if (!value) fail(`${name} is not set`);
  if (!path.isAbsolute(value)) fail(`${name} must be an absolute path, got "${value}"`);
  return path.normalize(value);
}

function portEnv(name, fallback) {
  const text = process.env[name] || String(fallback);
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) fail(`${name} must be a TCP port, got "${text}"`);
  return port;
}

function writeAtomic(file, content, mode = 0o644) {
  // `.smbos-tmp.*`: never listed or shown by `smbos memory` and the UI, and git-ignored.
  const tmp = path.join(path.dirname(file), `.smbos-tmp.${path.basename(file)}`);
  fs.writeFileSync(tmp, content, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

function readConfig() {
  return {
    agentId: process.env.SMBOS_AGENT_ID || '(unnamed)',
    agentDir: absoluteEnv('SMBOS_AGENT_DIR', '/smbos/agent'),
    instanceDir: absoluteEnv('SMBOS_INSTANCE_DIR'),
    memoryDir: absoluteEnv('SMBOS_MEMORY_DIR'),
    storeDir: absoluteEnv('SMBOS_STORE_DIR', '/var/lib/smbos/store'),
    nanoclawDir: absoluteEnv('SMBOS_NANOCLAW_DIR', '/opt/nanoclaw'),
    relayPort: portEnv('SMBOS_RELAY_PORT', 8080),
    telemetry: process.env.SMBOS_TELEMETRY || 'off',
    caFile: process.env.SMBOS_CA_FILE || '/etc/smbos/ca/smbos-ca.crt',
    httpPort: portEnv('HTTP_PORT', 3100),
    // Checked before anything is written, so a bad value changes nothing.
    schedules: parseSchedules(process.env.SMBOS_SCHEDULES),
    mcpServers: parseMcpServers(process.env.SMBOS_MCP_SERVERS),
    telegram: parseTelegram(process.env, fail),
    agentTeams: parseAgentTeams(process.env, fail),
  };
}

// --- step 1: the instance directory ------------------------------------------------

function requireWritableDir(dir, what) {
  let st;
  try {
    st = fs.statSync(dir);
  } catch (err) {
    if (err.code === 'ENOENT') fail(`${what} ${dir} does not exist (is it mounted?)`);
    fail(fsProblem(err, dir, 'use'));
  }
  if (!st.isDirectory()) fail(`${what} ${dir} is not a directory`);
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  } catch {
    fail(`${what} ${dir} is not writable (running as ${whoami()}; ${describe(dir)})`);
  }
}

/** Makes `link` a symlink to `target`; replaces a wrong link or an empty directory. */
function ensureSymlink(link, target) {
  let st = null;
  try {
    st = fs.lstatSync(link);
  } catch (err) {
    if (err.code !== 'ENOENT') fail(fsProblem(err, link, 'inspect'));
  }
  if (st && st.isSymbolicLink()) {
    if (fs.readlinkSync(link) === target) return;
    attempt('replace', link, () => fs.unlinkSync(link));
  } else if (st && st.isDirectory()) {
    if (fs.readdirSync(link).length > 0) {
      fail(`${link} is a directory with files; it must be a link to ${target}: move its contents there and remove it`);
    }
    attempt('replace', link, () => fs.rmdirSync(link));
  } else if (st) {
    fail(`${link} is a file; it must be a link to ${target}: remove it`);
  }
  attempt('create', link, () => fs.symlinkSync(target, link));
}

function prepareInstance(cfg) {
  requireWritableDir(cfg.instanceDir, 'instance directory');
  requireWritableDir(cfg.memoryDir, 'memory folder');
  requireWritableDir(cfg.storeDir, 'store directory');
  ensureSymlink(path.join(cfg.instanceDir, 'store'), cfg.storeDir);
  // groups/global: the memory NanoClaw shares across an agent's groups (read when present).
  for (const dir of ['groups', path.join('groups', 'global'), 'data']) {
    const full = path.join(cfg.instanceDir, dir);
    attempt('create', full, () => fs.mkdirSync(full, { recursive: true }));
  }
  ensureSymlink(path.join(cfg.instanceDir, 'groups', WEB_CHAT_FOLDER), cfg.memoryDir);
}

// --- step 2: identity ----------------------------------------------------------------

// agent.md is read by the rules of smbos/agentmd.py (its docstring), proven on the same cases
// (tests/fixtures/agent-md-cases.json): one reading, in Python and here.
const trailingBlank = (line) => line.replace(/[ \t]+$/, '');
const trimBody = (text) => text.replace(/^[ \t\n\v\f]+/, '').replace(/[ \t\n\v\f]+$/, '');

/** agent.md split into its front matter (null without one) and its body, trimmed; a problem
 * is thrown as `agent.md: <field>: <what>`. */
export function readAgentMd(text) {
  const clean = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const lines = clean.split('\n');
  const first = trailingBlank(lines[0]);
  let front = null;
  let body = clean;
  if (first === '---') {
    const close = lines.findIndex((line, i) => i > 0 && ['---', '...'].includes(trailingBlank(line)));
    if (close < 0) fail("agent.md: front matter: opened with '---' on line 1 and never closed");
    front = lines.slice(1, close).map((line) => `${line}\n`).join('');
    body = lines.slice(close + 1).join('\n');
  } else if (first.replace(/^[ \t]+/, '').startsWith('---')) {
    fail("agent.md: front matter: the first line starts with '---' but is not a front matter fence (expected '---' alone, at the start of the line)");
  }
  for (const marker of [BEGIN, END]) {
    if (body.includes(marker)) fail(`agent.md: body: holds '${marker}', a marker of the identity block SMBOS writes into CLAUDE.md; remove it`);
  }
  return { front, body: trimBody(body) };
}

/** The body of agent.md: the identity. */
export function agentBody(text) {
  return readAgentMd(text).body;
}

/** CLAUDE.md with its managed identity block set to `body`; everything else kept. */
export function withIdentity(current, body) {
  const block = `${BEGIN}\n${body}${body ? '\n' : ''}${END}`;
  const begin = current.indexOf(BEGIN);
  const end = begin >= 0 ? current.indexOf(END, begin + BEGIN.length) : -1;
  if (begin >= 0 && end >= 0) {
    return current.slice(0, begin) + block + current.slice(end + END.length);
  }
  // No complete block: drop stray markers, put the block first, keep the rest.
  const rest = current.split(BEGIN).join('').split(END).join('').replace(/^\n+/, '');
  return rest ? `${block}\n\n${rest}` : `${block}\n`;
}

function writeIdentity(cfg) {
  const source = path.join(cfg.agentDir, 'agent.md');
  let text = '';
  try {
    text = fs.readFileSync(source, 'utf8');
  } catch (err) {
    if (err.code !== 'ENOENT') fail(fsProblem(err, source, 'read'));
    info(`warning: ${source} not found; the identity block is left empty`);
  }
  const body = agentBody(text);
  const target = path.join(cfg.memoryDir, 'CLAUDE.md');
  let current = '';
  try {
    current = fs.readFileSync(target, 'utf8');
  } catch (err) {
    if (err.code !== 'ENOENT') fail(fsProblem(err, target, 'read'));
  }
  const next = withIdentity(current, body);
  if (next !== current) attempt('write', target, () => writeAtomic(target, next));
  info(`identity: ${body.length} characters from agent.md in ${path.join(cfg.instanceDir, 'groups', WEB_CHAT_FOLDER, 'CLAUDE.md')}`);
}

// --- step 3: secrets ---------------------------------------------------------------------

const TELEMETRY_OFF = ['CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC', 'DISABLE_TELEMETRY', 'DISABLE_ERROR_REPORTING'];

function copyEnv(cfg) {
  const source = path.join(cfg.agentDir, '.env');
  const target = path.join(cfg.instanceDir, '.env');
  let content;
  try {
    content = fs.readFileSync(source);
  } catch (err) {
    if (err.code === 'ENOENT') {
      attempt('remove', target, () => fs.rmSync(target, { force: true }));
      info(`no ${source}: NanoClaw runs without credentials`);
      return;
    }
    if (err.code === 'EISDIR') fail(`${source} is a directory, expected a file of KEY=VALUE lines`);
    fail(fsProblem(err, source, 'read'));
  }
  let text = content.toString('utf8');
  // channels.telegram: false is the one switch: NanoClaw reads the token from .env itself.
  if (cfg.telegram.enabled === false) text = withoutToken(text);
  const keys = text.split(/\r?\n/)
    .map((line) => line.trim().replace(/^export\s+/, ''))
    .filter((line) => line && !line.startsWith('#') && line.includes('='))
    .map((line) => line.slice(0, line.indexOf('=')).trim());
  // Claude Code's non-essential traffic (telemetry, error reports) is off in every turn unless
  // the agent's config.yaml says `runtime.telemetry: true` or .env sets the keys itself.
  const added = [];
  if (cfg.telemetry !== 'on') {
    for (const key of TELEMETRY_OFF) {
      if (!keys.includes(key)) added.push(`${key}=1`);
    }
  }
  if (added.length) text = `${text.replace(/\s*$/, '')}\n# added by SMBOS (runtime.telemetry: false)\n${added.join('\n')}\n`;
  attempt('write', target, () => writeAtomic(target, text, 0o600));
  if (!keys.includes('ANTHROPIC_API_KEY') && !keys.includes('CLAUDE_CODE_OAUTH_TOKEN')) {
    info(`warning: ${source} has neither ANTHROPIC_API_KEY nor CLAUDE_CODE_OAUTH_TOKEN`);
  }
  info(`.env: ${keys.length} keys copied to ${target} (mode 600)${added.length ? `; telemetry off in turns` : ''}`);
}

// --- step 3b: MCP servers ----------------------------------------------------------------

/** SMBOS_MCP_SERVERS: {name: {command, args: [..], env: {VAR: KEY of .env}, values: {VAR: text}}};
 * null when unset. */
export function parseMcpServers(text) {
  if (text === undefined) return null;
  let servers;
  try {
    servers = JSON.parse(text || '{}');
  } catch (err) {
    fail(`SMBOS_MCP_SERVERS is not valid JSON: ${err.message}`);
  }
  if (!servers || typeof servers !== 'object' || Array.isArray(servers)) {
    fail('SMBOS_MCP_SERVERS must be a JSON object');
  }
  for (const [name, server] of Object.entries(servers)) {
    const where = `SMBOS_MCP_SERVERS.${name}`;
    if (!server || typeof server.command !== 'string' || !server.command) fail(`${where}.command must be a non-empty string`);
    if (!Array.isArray(server.args || []) || (server.args || []).some((a) => typeof a !== 'string')) fail(`${where}.args must be a list of strings`);
    if (typeof (server.env || {}) !== 'object') fail(`${where}.env must be an object`);
    if (typeof (server.values || {}) !== 'object') fail(`${where}.values must be an object`);
  }
  return servers;
}

/** KEY=VALUE pairs of a .env text (comments, `export `, one pair of matching quotes). */
export function parseEnvText(text) {
  const values = {};
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (line.startsWith('export ')) line = line.slice(7).trim();
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) {
      value = value.slice(1, -1);
    }
    values[line.slice(0, eq).trim()] = value;
  }
  return values;
}

// SMBOS owns groups/web-chat/.mcp.json (the runtime's agent loads it from the group folder):
// the servers of config.yaml, each with the values of its .env keys written literally (older
// SDKs do not expand ${VAR}). Mode 600; a key missing from .env is left out and named.
function writeMcpConfig(cfg) {
  if (cfg.mcpServers === null) return;
  const file = path.join(cfg.instanceDir, 'groups', WEB_CHAT_FOLDER, '.mcp.json');
  let env = {};
  try {
    env = parseEnvText(fs.readFileSync(path.join(cfg.instanceDir, '.env'), 'utf8'));
  } catch {
    env = {};
  }
  const mcpServers = {};
  const missing = [];
  for (const [name, server] of Object.entries(cfg.mcpServers)) {
    // `values`: fixed values (where a credential file is in the per-turn container).
    const serverEnv = { ...(server.values || {}) };
    for (const [variable, key] of Object.entries(server.env || {})) {
      if (env[key]) serverEnv[variable] = env[key];
      else missing.push(`${name}:${key}`);
    }
    mcpServers[name] = { command: server.command, args: server.args || [], env: serverEnv };
  }
  attempt('write', file, () => writeAtomic(file, `${JSON.stringify({ mcpServers }, null, 2)}\n`, 0o600));
  const names = Object.keys(mcpServers);
  info(`mcp: ${names.length ? names.join(', ') : 'no servers'} in ${file} (mode 600)`);
  if (missing.length) info(`warning: mcp: not set in .env: ${missing.join(', ')}`);
}

// --- step 4: the agent runner source ---------------------------------------------------

function copyTree(from, to) {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const a = path.join(from, entry.name);
    const b = path.join(to, entry.name);
    if (entry.isDirectory()) copyTree(a, b);
    else if (entry.isFile()) fs.copyFileSync(a, b);
    else if (entry.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(a), b);
  }
}

// NanoClaw mounts these from its working directory into each per-turn container.
const RUNTIME_TREES = [['container', 'agent-runner', 'src'], ['container', 'skills']];

function copyAgentRunner(cfg) {
  for (const parts of RUNTIME_TREES) {
    const source = path.join(cfg.nanoclawDir, ...parts);
    if (!fs.existsSync(source)) continue;
    const target = path.join(cfg.instanceDir, ...parts);
    attempt('replace', target, () => {
      fs.rmSync(target, { recursive: true, force: true });
      copyTree(source, target);
    });
  }
}

// --- step 5: schedules ---------------------------------------------------------------------

export function parseSchedules(text) {
  if (!text || !text.trim()) return [];
  let list;
  try {
    list = JSON.parse(text);
  } catch (err) {
    fail(`SMBOS_SCHEDULES is not valid JSON: ${err.message}`);
  }
  if (!Array.isArray(list)) fail('SMBOS_SCHEDULES must be a JSON list');
  return list.map((item, i) => {
    const where = `SMBOS_SCHEDULES[${i}]`;
    if (!item || typeof item !== 'object') fail(`${where} must be an object`);
    for (const key of ['id', 'prompt', 'schedule_type', 'schedule_value']) {
      if (typeof item[key] !== 'string' || !item[key]) fail(`${where}.${key} must be a non-empty string`);
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(item.id)) {
      fail(`${where}.id "${item.id}" may hold only letters, digits, ".", "_" and "-"`);
    }
    if (!['cron', 'interval', 'once'].includes(item.schedule_type)) {
      fail(`${where}.schedule_type must be cron, interval or once, got "${item.schedule_type}"`);
    }
    return item;
  });
}

// What the built NanoClaw can do with schedules, read from its code (by content, like the
// runtime patches): a scheduler loop that runs due tasks, an IPC watcher that reads task files,
// and a `schedule_task` that honours a caller's taskId (so seeding is idempotent).
export function scheduleSupport(nanoclawDir) {
  const read = (file) => {
    try {
      return fs.readFileSync(path.join(nanoclawDir, 'dist', file), 'utf8');
    } catch {
      return '';
    }
  };
  const index = read('index.js');
  const ipc = read('ipc.js');
  return {
    scheduler: index.includes('startSchedulerLoop('),
    watcher: index.includes('startIpcWatcher('),
    taskIds: ipc.includes('data.taskId'),
  };
}

function getJson(port, route, timeoutMs = 3000) {
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

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms).unref(); });

/** The IPC jobs that make the runtime's `smbos-*` tasks of the web chat match `schedules`. */
export function scheduleJobs(schedules, tasks) {
  const mine = new Map(tasks.filter((t) => String(t.id).startsWith('smbos-') && t.group_folder === WEB_CHAT_FOLDER)
    .map((t) => [String(t.id), t]));
  const jobs = [];
  const counts = { created: 0, updated: 0, cancelled: 0, unchanged: 0 };
  for (const s of schedules) {
    const taskId = `smbos-${s.id}`;
    const context = s.context_mode === 'isolated' ? 'isolated' : 'group';
    const current = mine.get(taskId);
    mine.delete(taskId);
    if (current && current.prompt === s.prompt && current.schedule_type === s.schedule_type
        && String(current.schedule_value) === s.schedule_value && current.context_mode === context) {
      counts.unchanged += 1;
      continue;
    }
    counts[current ? 'updated' : 'created'] += 1;
    jobs.push({ type: 'schedule_task', taskId, targetJid: WEB_CHAT_JID, prompt: s.prompt,
      schedule_type: s.schedule_type, schedule_value: s.schedule_value, context_mode: context });
  }
  for (const taskId of mine.keys()) {
    counts.cancelled += 1;
    jobs.push({ type: 'cancel_task', taskId });
  }
  return { jobs, counts };
}

// Reconciles the runtime's tasks with SMBOS_SCHEDULES once NanoClaw answers: reads what it
// reports (GET /api/tasks), then asks it through its own IPC (data/ipc/web-chat/tasks/*.json)
// to create or update each declared schedule (`schedule_task` with the stable id smbos-<id>)
// and to cancel the smbos-* tasks no longer declared. Tasks the agent created itself (any
// other id) are never touched; SMBOS never writes the runtime's database.
// <instance>/.smbos-runtime.json: what this runtime can do, for `smbos tasks`, `doctor` and the
// UI on the host (they cannot look inside the image). Rewritten at every start.
function writeRuntimeFacts(cfg, facts) {
  const file = path.join(cfg.instanceDir, '.smbos-runtime.json');
  try {
    writeAtomic(file, `${JSON.stringify({ ...facts, written_at: new Date().toISOString() }, null, 2)}\n`);
  } catch (err) {
    info(`warning: cannot write ${file}: ${err.code || err.message}`);
  }
}

async function reconcileSchedules(cfg) {
  const support = scheduleSupport(cfg.nanoclawDir);
  const facts = { schedules: support, declared: cfg.schedules.length, reconciled: null };
  writeRuntimeFacts(cfg, facts);
  if (!support.scheduler || !support.watcher || !support.taskIds) {
    const missing = [!support.scheduler && 'no scheduler loop', !support.watcher && 'no IPC watcher',
      !support.taskIds && 'schedule_task ignores taskId'].filter(Boolean).join(', ');
    if (cfg.schedules.length) {
      info(`warning: schedules: this NanoClaw cannot run SMBOS's schedules (${missing}); ${cfg.schedules.length} declared schedule(s) left unscheduled (build it with \`smbos build\`, which patches this)`);
    }
    return;
  }
  let reply = null;
  for (let i = 0; i < 240; i += 1) {
    reply = await getJson(cfg.httpPort, '/api/tasks');
    if (reply.status === 200 && reply.data && Array.isArray(reply.data.tasks)) break;
    if (reply.status === 404) {
      info('warning: schedules: this NanoClaw has no /api/tasks; schedules not reconciled');
      return;
    }
    await sleep(500);
  }
  if (!reply || reply.status !== 200) {
    info('warning: schedules: NanoClaw did not answer /api/tasks within 120 s; schedules not reconciled');
    return;
  }
  const { jobs, counts } = scheduleJobs(cfg.schedules, reply.data.tasks);
  if (jobs.length) {
    const dir = path.join(cfg.instanceDir, 'data', 'ipc', WEB_CHAT_FOLDER, 'tasks');
    fs.mkdirSync(dir, { recursive: true });
    jobs.forEach((job, i) => {
      const file = path.join(dir, `smbos-${Date.now()}-${String(i).padStart(3, '0')}-${job.type}.json`);
      fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(job)}\n`);
      fs.renameSync(`${file}.tmp`, file);
    });
  }
  writeRuntimeFacts(cfg, { ...facts, reconciled: counts });
  info(`schedules: ${counts.created} created, ${counts.updated} updated, ${counts.cancelled} cancelled, ${counts.unchanged} unchanged (through NanoClaw's IPC)`);
}

// --- step 6: relay and runtime ---------------------------------------------------------------

function startRelay(cfg) {
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
    server.once('error', (err) => reject(new SetupError(`relay cannot listen on 0.0.0.0:${cfg.relayPort}: ${err.code || err.message}`)));
    server.listen(cfg.relayPort, '0.0.0.0', () => {
      resolve({
        close() {
          server.close();
          for (const s of sockets) s.destroy();
        },
      });
    });
  });
}

function startRuntime(cfg, relay) {
  const entry = path.join(cfg.nanoclawDir, 'dist', 'index.js');
  if (!fs.existsSync(entry)) fail(`NanoClaw not found: ${entry} does not exist`);
  const env = { ...process.env, PWD: cfg.instanceDir };
  if (cfg.telegram.enabled === false) delete env[TOKEN_KEY];
  // The extra CA of `smbos build --ca-cert` (a proxy that intercepts TLS, a private gateway).
  let caSize = 0;
  try {
    caSize = fs.statSync(cfg.caFile).size;
  } catch {
    caSize = 0;
  }
  if (caSize > 0 && !env.NODE_EXTRA_CA_CERTS) env.NODE_EXTRA_CA_CERTS = cfg.caFile;
  const child = spawn(process.execPath, [entry], {
    cwd: cfg.instanceDir,
    env,
    stdio: 'inherit',
  });
  info(`agent ${cfg.agentId}: NanoClaw pid ${child.pid} in ${cfg.instanceDir}; relay 0.0.0.0:${cfg.relayPort} -> 127.0.0.1:${cfg.httpPort}`);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT']) {
    process.removeAllListeners(signal);
    process.on(signal, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    });
  }
  child.on('error', (err) => {
    process.stderr.write(`${NAME}: cannot start NanoClaw: ${err.message}\n`);
    relay.close();
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    const status = code !== null ? code : 128 + (os.constants.signals[signal] || 0);
    info(`NanoClaw exited (${code !== null ? `code ${code}` : `signal ${signal}`}); container exits ${status}`);
    relay.close();
    process.exit(status);
  });
}

async function main() {
  // A stop request during setup ends the container at once.
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => process.exit(128 + os.constants.signals[signal]));
  }
  const cfg = readConfig();
  prepareInstance(cfg);
  writeIdentity(cfg);
  copyEnv(cfg);
  writeMcpConfig(cfg);
  const chats = attempt('prepare', path.join(cfg.instanceDir, 'data', 'ipc', 'main'),
    () => prepareChats(cfg, ensureSymlink));
  if (chats) info(`telegram: ${chats} chat(s) queued for registration through NanoClaw's IPC`);
  attempt('prepare', path.join(cfg.instanceDir, 'data', 'sessions'),
    () => prepareTeams(cfg, WEB_CHAT_FOLDER, info));
  copyAgentRunner(cfg);
  const relay = await startRelay(cfg);
  startRuntime(cfg, relay);
  reconcileSchedules(cfg).catch((err) => info(`warning: schedules: ${err.message}`));
  checkChats(cfg, getJson, sleep, info).catch((err) => info(`warning: telegram: ${err.message}`));
}

if (process.argv[1] && fs.realpathSync(path.resolve(process.argv[1])) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    const message = err instanceof SetupError ? err.message : `unexpected error: ${err.stack || err}`;
    process.stderr.write(`${NAME}: error: ${message}\n`);
    process.exit(1);
  });
}
