// The entrypoint as the image runs it: a process, with a fake NanoClaw (dist/index.js serving the
// routes the entrypoint asks) in a temporary instance. The Docker tiers run it in the image.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, it as test } from 'node:test';

const ENTRYPOINT = new URL('./entrypoint.mjs', import.meta.url).pathname;

const FAKE_NANOCLAW = `// startSchedulerLoop( startIpcWatcher(
import fs from 'node:fs';
import http from 'node:http';
fs.writeFileSync('runtime-saw.json', JSON.stringify({ cwd: process.cwd(), token: process.env.TELEGRAM_BOT_TOKEN ?? null }));
const tasks = [{ id: 'smbos-old', prompt: 'p', schedule_type: 'cron', schedule_value: '0 9 * * *', context_mode: 'group', group_folder: 'web-chat' }];
http.createServer((req, res) => {
  const body = { '/api/health': { status: 'ok' }, '/api/tasks': { tasks }, '/api/state': { groups: [{ jid: 'tg:5' }] } }[req.url];
  res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body ?? { error: 'not found' }));
}).listen(Number(process.env.HTTP_PORT), '127.0.0.1');
if (process.env.FAKE_EXIT_ON_TERM) process.on('SIGTERM', () => process.exit(Number(process.env.FAKE_EXIT_ON_TERM)));
`;

const freePort = () => new Promise((resolve) => {
  const server = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    server.close(() => resolve(port));
  });
});

async function fixture() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'entrypoint-'));
  const dir = (...parts) => { const p = path.join(root, ...parts); fs.mkdirSync(p, { recursive: true }); return p; };
  const env = {
    PATH: process.env.PATH, SMBOS_AGENT_ID: 'andy', SMBOS_AGENT_DIR: dir('agent'), SMBOS_INSTANCE_DIR: dir('state'),
    SMBOS_MEMORY_DIR: dir('agent', 'memory'), SMBOS_STORE_DIR: dir('store'), SMBOS_NANOCLAW_DIR: path.dirname(dir('nanoclaw', 'dist')),
    SMBOS_RELAY_PORT: String(await freePort()), HTTP_PORT: String(await freePort()), SMBOS_CA_FILE: path.join(root, 'no-ca.crt'),
    SMBOS_SCHEDULES: JSON.stringify([{ id: 'daily', prompt: 'p', schedule_type: 'cron', schedule_value: '0 8 * * *', context_mode: 'group' }]),
    SMBOS_TELEGRAM: 'on', SMBOS_TELEGRAM_CHATS: JSON.stringify([{ jid: 'tg:5', name: 'Me', folder: 'telegram-5', trigger: '@A', requires_trigger: false }]),
    TELEGRAM_BOT_TOKEN: '1:abc',
  };
  fs.writeFileSync(path.join(env.SMBOS_NANOCLAW_DIR, 'dist', 'index.js'), FAKE_NANOCLAW);
  fs.writeFileSync(path.join(env.SMBOS_NANOCLAW_DIR, 'dist', 'ipc.js'), '// data.taskId\n');
  fs.writeFileSync(path.join(env.SMBOS_AGENT_DIR, 'agent.md'), '# Andy\n');
  fs.writeFileSync(path.join(env.SMBOS_AGENT_DIR, '.env'), 'ANTHROPIC_API_KEY=sk-ant-secret-value\nTELEGRAM_BOT_TOKEN=1:abc\n');
  return env;
}

function start(env) {
  const child = spawn(process.execPath, [ENTRYPOINT], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (c) => { out.stdout += c; });
  child.stderr.on('data', (c) => { out.stderr += c; });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out, exited };
}

async function until(check, what) {
  for (let i = 0; i < 200; i += 1) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const get = (port, route) => new Promise((resolve, reject) => {
  http.get({ host: '127.0.0.1', port, path: route, agent: false }, (res) => {
    let body = '';
    res.on('data', (c) => { body += c; });
    res.on('end', () => resolve({ status: res.statusCode, body }));
  }).on('error', reject);
});

// Each test starts its own entrypoint on its own ports: they run side by side.
describe('the entrypoint as a process', { concurrency: true }, () => {
  test('the entrypoint prepares, relays to NanoClaw, reconciles, and exits with its code', async () => {
    const env = await fixture();
    const { child, out, exited } = start({ ...env, FAKE_EXIT_ON_TERM: '7' });
    await until(() => out.stdout.includes('schedules: ') && out.stdout.includes('telegram: on'), 'schedules and chats');
    assert.deepEqual(await get(Number(env.SMBOS_RELAY_PORT), '/api/health'), { status: 200, body: '{"status":"ok"}' });
    const inst = env.SMBOS_INSTANCE_DIR;
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(inst, 'runtime-saw.json'), 'utf8')), { cwd: inst, token: '1:abc' });
    const tasks = path.join(inst, 'data', 'ipc', 'web-chat', 'tasks');
    assert.deepEqual(fs.readdirSync(tasks).map((f) => JSON.parse(fs.readFileSync(path.join(tasks, f), 'utf8')).type).sort(), ['cancel_task', 'schedule_task']);
    assert.deepEqual(fs.readdirSync(path.join(inst, 'data', 'ipc', 'main', 'tasks')), ['smbos-chat-telegram-5.json']);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(inst, '.smbos-runtime.json'), 'utf8')).reconciled,
      { created: 1, updated: 0, cancelled: 1, unchanged: 0 });
    child.kill('SIGTERM');
    assert.equal(await exited, 7);
    assert.match(out.stdout, /NanoClaw exited \(code 7\); container exits 7\n$/);
    assert.equal(out.stderr, '');
    assert.ok(!out.stdout.includes('sk-ant-secret-value') && !out.stdout.includes('1:abc'), 'no secret is printed');
  });

  test('NanoClaw ended by a signal: the container exits 128 + its number; Telegram off withholds the token', async () => {
    const env = await fixture();
    const { child, out, exited } = start({ ...env, SMBOS_TELEGRAM: 'off', SMBOS_SCHEDULES: '' });
    await until(() => out.stdout.includes('telegram: off'), 'the chats checked');
    assert.equal(JSON.parse(fs.readFileSync(path.join(env.SMBOS_INSTANCE_DIR, 'runtime-saw.json'), 'utf8')).token, null);
    assert.ok(!fs.readFileSync(path.join(env.SMBOS_INSTANCE_DIR, '.env'), 'utf8').includes('TELEGRAM_BOT_TOKEN'));
    child.kill('SIGTERM');
    assert.equal(await exited, 143);
  });

  test('a bad setting is one line on stderr and exit 1, before anything is written', async () => {
    const env = await fixture();
    const { out, exited } = start({ ...env, SMBOS_SCHEDULES: '[{"id": "x"}]' });
    assert.equal(await exited, 1);
    assert.equal(out.stderr, 'smbos-entrypoint: error: SMBOS_SCHEDULES[0].prompt must be a non-empty string\n');
    assert.deepEqual(fs.readdirSync(env.SMBOS_INSTANCE_DIR), []);
  });
});
