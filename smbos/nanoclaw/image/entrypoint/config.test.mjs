import assert from 'node:assert/strict';
import test from 'node:test';

import { readConfig } from './config.mjs';

const BASE = { SMBOS_INSTANCE_DIR: '/state/andy', SMBOS_MEMORY_DIR: '/agents/andy/memory' };

test('the settings come from the environment, with the image defaults', () => {
  const cfg = readConfig(BASE);
  assert.deepEqual({ ...cfg, telegram: undefined }, {
    agentId: '(unnamed)', agentDir: '/smbos/agent', instanceDir: '/state/andy', memoryDir: '/agents/andy/memory',
    storeDir: '/var/lib/smbos/store', nanoclawDir: '/opt/nanoclaw', relayPort: 8080, telemetry: 'off',
    caFile: '/etc/smbos/ca/smbos-ca.crt', httpPort: 3100, schedules: [], mcpServers: null, telegram: undefined, agentTeams: null,
  });
  assert.deepEqual(cfg.telegram, { enabled: null, chats: [] });
  const given = readConfig({ ...BASE, SMBOS_AGENT_ID: 'andy', SMBOS_INSTANCE_DIR: '/state/andy/../bob', SMBOS_RELAY_PORT: '9000',
    HTTP_PORT: '3200', SMBOS_MCP_SERVERS: '{}', SMBOS_AGENT_TEAMS: 'on', SMBOS_TELEMETRY: 'on' });
  assert.deepEqual([given.agentId, given.instanceDir, given.relayPort, given.httpPort, given.mcpServers, given.agentTeams, given.telemetry],
    ['andy', '/state/bob', 9000, 3200, {}, true, 'on']);
});

test('a missing, relative or bad value stops the start with one line naming it', () => {
  const bad = [
    [{ SMBOS_MEMORY_DIR: '/m' }, 'SMBOS_INSTANCE_DIR is not set'],
    [{ ...BASE, SMBOS_STORE_DIR: 'store' }, 'SMBOS_STORE_DIR must be an absolute path, got "store"'],
    [{ ...BASE, SMBOS_RELAY_PORT: '80a' }, 'SMBOS_RELAY_PORT must be a TCP port, got "80a"'],
    [{ ...BASE, HTTP_PORT: '70000' }, 'HTTP_PORT must be a TCP port, got "70000"'],
    [{ ...BASE, SMBOS_SCHEDULES: '{}' }, 'SMBOS_SCHEDULES must be a JSON list'],
    [{ ...BASE, SMBOS_TELEGRAM: 'maybe' }, 'SMBOS_TELEGRAM must be on or off, got "maybe"'],
  ];
  for (const [env, message] of bad) assert.throws(() => readConfig(env), { message });
});
