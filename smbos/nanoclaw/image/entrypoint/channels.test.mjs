import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';

import {
  MANAGED_FILE, chatReport, checkChats, parseTelegram, prepareChats, registrationJobs, withheldKeys, withoutToken,
} from './channels.mjs';
import { ipcProblems } from './ipc.mjs';

const chat = (id) => ({ jid: `tg:${id}`, name: `C${id}`, folder: `telegram-${id}`, trigger: '@Andy', requires_trigger: false });

test('the switch and the chats are checked; unset means "left as the .env has it"', () => {
  assert.deepEqual(parseTelegram({}), { enabled: null, chats: [] });
  assert.deepEqual(parseTelegram({ SMBOS_TELEGRAM: 'on', SMBOS_TELEGRAM_CHATS: JSON.stringify([chat(5)]) }), { enabled: true, chats: [chat(5)] });
  assert.equal(parseTelegram({ SMBOS_TELEGRAM: 'off', SMBOS_TELEGRAM_CHATS: ' ' }).enabled, false);
  const bad = [
    [{ SMBOS_TELEGRAM: 'yes' }, 'SMBOS_TELEGRAM must be on or off, got "yes"'],
    [{ SMBOS_TELEGRAM_CHATS: '[{"jid":"5"}]' }, 'SMBOS_TELEGRAM_CHATS[0].jid must be tg:<number>, got "5"'],
    [{ SMBOS_TELEGRAM_CHATS: '{}' }, 'SMBOS_TELEGRAM_CHATS must be a JSON list'],
    [{ SMBOS_TELEGRAM_CHATS: JSON.stringify([{ ...chat(5), folder: '../x' }]) }, 'SMBOS_TELEGRAM_CHATS[0].folder must be telegram-<number>, got "../x"'],
    [{ SMBOS_TELEGRAM_CHATS: JSON.stringify([{ ...chat(5), trigger: '' }]) }, 'SMBOS_TELEGRAM_CHATS[0].trigger must be a non-empty string'],
    [{ SMBOS_TELEGRAM_CHATS: JSON.stringify([{ ...chat(5), requires_trigger: 'no' }]) }, 'SMBOS_TELEGRAM_CHATS[0].requires_trigger must be true or false'],
  ];
  for (const [env, message] of bad) assert.throws(() => parseTelegram(env), { message });
});

test('the token is withheld only while Telegram is off', () => {
  const env = 'A=1\nTELEGRAM_BOT_TOKEN=123:abc\n export TELEGRAM_BOT_TOKEN = "x"\n# TELEGRAM_BOT_TOKEN=c\nB=2\n';
  assert.equal(withoutToken(env), 'A=1\n# TELEGRAM_BOT_TOKEN=c\nB=2\n');
  assert.deepEqual(withheldKeys({ enabled: false }), ['TELEGRAM_BOT_TOKEN']);
  assert.deepEqual(withheldKeys({ enabled: true }), []);
  assert.deepEqual(withheldKeys({ enabled: null }), []);
});

test('each declared chat is a register_group job in the main group\'s IPC and a link to the memory', () => {
  assert.deepEqual(registrationJobs([chat(5)]), [['smbos-chat-telegram-5.json', {
    type: 'register_group', jid: 'tg:5', name: 'C5', folder: 'telegram-5', trigger: '@Andy', requiresTrigger: false }]]);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'channels-'));
  const cfg = { instanceDir: path.join(root, 'inst'), memoryDir: path.join(root, 'memory'), telegram: { enabled: true, chats: [chat(5)] } };
  fs.mkdirSync(path.join(cfg.instanceDir, 'data'), { recursive: true });
  fs.writeFileSync(path.join(cfg.instanceDir, 'data', 'smbos-telegram.json'), '{"state":"failed"}');
  const links = [];
  assert.equal(prepareChats(cfg, (link, target) => links.push([link, target])), 1);
  assert.deepEqual(links, [[path.join(cfg.instanceDir, 'groups', 'telegram-5'), cfg.memoryDir]]);
  const tasks = path.join(cfg.instanceDir, 'data', 'ipc', 'main', 'tasks');
  assert.deepEqual(fs.readdirSync(tasks), ['smbos-chat-telegram-5.json']);
  assert.deepEqual(ipcProblems(JSON.parse(fs.readFileSync(path.join(tasks, 'smbos-chat-telegram-5.json'), 'utf8'))), []);
  assert.equal(fs.existsSync(path.join(cfg.instanceDir, 'data', 'smbos-telegram.json')), false, "the runtime's stale state is removed");
  assert.equal(prepareChats({ ...cfg, telegram: { enabled: false, chats: [chat(5)] } }, () => assert.fail('no link while off')), 0);
});

test('the report compares what the runtime serves with what is declared', () => {
  assert.deepEqual(chatReport([chat(5)], [{ jid: 'web-chat@smbos' }, { jid: 'tg:9' }]),
    { declared: ['tg:5'], registered: [], missing: ['tg:5'], undeclared: ['tg:9'] });
  assert.deepEqual(chatReport([], undefined), { declared: [], registered: [], missing: [], undeclared: [] });
});

test('a chat no longer declared is unregistered once, and only if SMBOS registered it', async () => {
  const inst = fs.mkdtempSync(path.join(os.tmpdir(), 'chats-'));
  const tasks = path.join(inst, 'data', 'ipc', 'main', 'tasks');
  const run = async (chats, served, enabled = true) => {
    const cfg = { instanceDir: inst, memoryDir: inst, telegram: { enabled, chats } };
    prepareChats(cfg, () => {});
    const queued = fs.existsSync(tasks) ? fs.readdirSync(tasks).sort() : [];
    const unregister = queued.filter((f) => f.startsWith('smbos-unchat-'))
      .map((f) => JSON.parse(fs.readFileSync(path.join(tasks, f), 'utf8')));
    for (const f of queued) fs.rmSync(path.join(tasks, f)); // the runtime consumes its jobs
    const lines = [];
    await checkChats({ ...cfg, httpPort: 1 }, {
      getJson: async () => ({ status: 200, data: { groups: served.map((jid) => ({ jid })) } }),
      sleep: async () => {},
      info: (line) => lines.push(line),
    });
    return { queued, unregister, lines, managed: JSON.parse(fs.readFileSync(path.join(inst, MANAGED_FILE), 'utf8')).chats };
  };
  const steps = [];
  steps.push(await run([chat(1), chat(2)], ['tg:1', 'tg:2', 'tg:77'])); // tg:77: the agent's own
  steps.push(await run([chat(1)], ['tg:1'])); // tg:2 taken away
  steps.push(await run([chat(1)], ['tg:1'])); // nothing left to do
  steps.push(await run([chat(1), chat(2)], ['tg:1', 'tg:2'])); // declared again
  fs.mkdirSync(tasks, { recursive: true });
  fs.writeFileSync(path.join(tasks, 'smbos-unchat-tg_2.json'), '{}'); // a stale job of tg:2
  steps.push(await run([chat(1), chat(2)], ['tg:1', 'tg:2']));
  steps.push(await run([chat(1)], ['tg:1', 'tg:2'])); // a runtime without the patch
  steps.push(await run([chat(1)], ['tg:1'])); // tried again, then gone
  const gone = { type: 'unregister_group', jid: 'tg:2' };
  assert.deepEqual(steps.map((s) => s.unregister), [[], [gone], [], [], [], [gone], [gone]]);
  assert.deepEqual(steps.map((s) => s.managed),
    [['tg:1', 'tg:2'], ['tg:1'], ['tg:1'], ['tg:1', 'tg:2'], ['tg:1', 'tg:2'], ['tg:1', 'tg:2'], ['tg:1']]);
  assert.ok(!steps[4].queued.includes('smbos-unchat-tg_2.json'), 'undone by declaring it again');
  assert.ok(steps[1].lines.some((l) => l.includes('unregistered chat(s) no longer declared: tg:2')));
  assert.ok(steps[0].lines.some((l) => l.includes('tg:77') && l.includes('not declared')), 'never taken away');
  assert.ok(steps[5].lines.some((l) => l.includes('tg:2') && l.includes('not declared')));
});

test('the chats the runtime serves are recorded for `smbos status`; a runtime without /api/state is said', async () => {
  const inst = fs.mkdtempSync(path.join(os.tmpdir(), 'facts-'));
  const lines = [];
  const cfg = { instanceDir: inst, httpPort: 1, telegram: { enabled: true, chats: [chat(5)] } };
  await checkChats(cfg, { getJson: async () => ({ status: 404, data: null }), sleep: async () => {}, info: (l) => lines.push(l) });
  const facts = JSON.parse(fs.readFileSync(path.join(inst, '.smbos-telegram.json'), 'utf8'));
  assert.deepEqual(facts, { enabled: true, chats: null, checked_at: facts.checked_at });
  assert.deepEqual(lines, ['warning: telegram: the runtime did not report its chats (no /api/state)']);
  await checkChats({ ...cfg, telegram: { enabled: null, chats: [] } }, { getJson: async () => assert.fail('not asked') });
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(inst, '.smbos-telegram.json'), 'utf8')), { enabled: null, chats: null, checked_at: null });
});
