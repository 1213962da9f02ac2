import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';

import { mcpConfig, parseMcpServers, writeMcpConfig } from './mcp.mjs';

test('SMBOS_MCP_SERVERS is checked before anything is written', () => {
  assert.equal(parseMcpServers(undefined), null);
  assert.deepEqual(parseMcpServers(''), {});
  const bad = [
    ['{', /^SMBOS_MCP_SERVERS is not valid JSON: /],
    ['[]', /^SMBOS_MCP_SERVERS must be a JSON object$/],
    ['{"a": {"command": ""}}', /^SMBOS_MCP_SERVERS\.a\.command must be a non-empty string$/],
    ['{"a": {"command": "x", "args": [1]}}', /^SMBOS_MCP_SERVERS\.a\.args must be a list of strings$/],
    ['{"a": {"command": "x", "env": "K"}}', /^SMBOS_MCP_SERVERS\.a\.env must be an object$/],
    ['{"a": {"command": "x", "values": 3}}', /^SMBOS_MCP_SERVERS\.a\.values must be an object$/],
  ];
  for (const [text, message] of bad) assert.throws(() => parseMcpServers(text), { message }, text);
});

test('each server gets the values of its .env keys and its fixed values; a missing key is named', () => {
  const servers = { notion: { command: 'npx', args: ['-y', 'n'], env: { TOKEN: 'NOTION_TOKEN', OTHER: 'NOPE' } },
    calendar: { command: 'cal', values: { CREDS: '/home/node/.config/c.json' } } };
  assert.deepEqual(mcpConfig(servers, { NOTION_TOKEN: 'ntn', NOPE: '' }), {
    config: { mcpServers: { notion: { command: 'npx', args: ['-y', 'n'], env: { TOKEN: 'ntn' } },
      calendar: { command: 'cal', args: [], env: { CREDS: '/home/node/.config/c.json' } } } },
    missing: ['notion:NOPE'],
  });
});

test('.mcp.json is written in the web chat folder, mode 600, and no value is logged', (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-'));
  const cfg = { instanceDir: root, mcpServers: null };
  fs.mkdirSync(path.join(root, 'groups', 'web-chat'), { recursive: true });
  fs.writeFileSync(path.join(root, '.env'), 'NOTION_TOKEN=ntn-secret\n');
  const lines = [];
  t.mock.method(process.stdout, 'write', (text) => { lines.push(text); return true; });
  writeMcpConfig(cfg);
  const file = path.join(root, 'groups', 'web-chat', '.mcp.json');
  assert.equal(fs.existsSync(file), false, 'unset: the file is not SMBOS\'s to write');
  writeMcpConfig({ ...cfg, mcpServers: { notion: { command: 'n', env: { T: 'NOTION_TOKEN', U: 'GONE' } } } });
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).mcpServers.notion.env.T, 'ntn-secret');
  assert.deepEqual(lines, [`smbos-entrypoint: mcp: notion in ${file} (mode 600)\n`,
    'smbos-entrypoint: warning: mcp: not set in .env: notion:GONE\n']);
  writeMcpConfig({ ...cfg, mcpServers: {} });
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { mcpServers: {} });
  assert.match(lines.at(-1), /mcp: no servers in /);
});
