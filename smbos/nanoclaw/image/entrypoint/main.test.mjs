import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';

import { readConfig } from './config.mjs';
import { prepare } from './main.mjs';

// main() itself (relay, NanoClaw, signals, exit codes) runs as a process in ../entrypoint.test.mjs.
test('before NanoClaw starts every file it reads is in place, and a second start changes nothing', (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'main-'));
  const dir = (...parts) => { const p = path.join(root, ...parts); fs.mkdirSync(p, { recursive: true }); return p; };
  const env = {
    SMBOS_AGENT_DIR: dir('agent'), SMBOS_INSTANCE_DIR: dir('state'), SMBOS_MEMORY_DIR: dir('agent', 'memory'),
    SMBOS_STORE_DIR: dir('store'), SMBOS_NANOCLAW_DIR: dir('nanoclaw'), SMBOS_TELEGRAM: 'off',
    SMBOS_TELEGRAM_CHATS: JSON.stringify([{ jid: 'tg:5', name: 'Me', folder: 'telegram-5', trigger: '@A', requires_trigger: false }]),
    SMBOS_MCP_SERVERS: JSON.stringify({ notion: { command: 'n', env: { T: 'NOTION_TOKEN' } } }), SMBOS_AGENT_TEAMS: 'on',
  };
  fs.writeFileSync(path.join(env.SMBOS_AGENT_DIR, 'agent.md'), '# Andy\n');
  fs.writeFileSync(path.join(env.SMBOS_AGENT_DIR, '.env'), 'ANTHROPIC_API_KEY=k\nNOTION_TOKEN=ntn\nTELEGRAM_BOT_TOKEN=1:a\n');
  dir('nanoclaw', 'container', 'agent-runner', 'src');
  const lines = [];
  t.mock.method(process.stdout, 'write', (text) => { lines.push(text); return true; });
  const cfg = readConfig(env);
  prepare(cfg);
  const inst = env.SMBOS_INSTANCE_DIR;
  const snapshot = () => ({
    claude: fs.readFileSync(path.join(inst, 'groups', 'web-chat', 'CLAUDE.md'), 'utf8'),
    env: fs.readFileSync(path.join(inst, '.env'), 'utf8'),
    mcp: JSON.parse(fs.readFileSync(path.join(inst, 'groups', 'web-chat', '.mcp.json'), 'utf8')),
    settings: JSON.parse(fs.readFileSync(path.join(inst, 'data', 'sessions', 'web-chat', '.claude', 'settings.json'), 'utf8')),
    runner: fs.existsSync(path.join(inst, 'container', 'agent-runner', 'src')),
    ipc: fs.existsSync(path.join(inst, 'data', 'ipc', 'main', 'tasks')) ? fs.readdirSync(path.join(inst, 'data', 'ipc', 'main', 'tasks')) : [],
  });
  const first = snapshot();
  assert.match(first.claude, /<!-- smbos:identity:begin -->\n# Andy\n<!-- smbos:identity:end -->/);
  assert.ok(!first.env.includes('TELEGRAM_BOT_TOKEN'), 'Telegram is off');
  assert.equal(first.mcp.mcpServers.notion.env.T, 'ntn');
  assert.equal(first.settings.env.CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS, '1');
  assert.equal(first.runner, true);
  assert.deepEqual(first.ipc, [], 'no chat is registered while Telegram is off');
  assert.deepEqual(lines.map((l) => l.split(':')[1].trim()), ['identity', '.env', 'mcp', 'teams']);
  prepare(readConfig(env));
  assert.deepEqual(snapshot(), first);
});
