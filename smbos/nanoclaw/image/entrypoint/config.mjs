// What the container is told (docs/container-interface.md, "Environment"): the environment read
// and checked at once, so a bad value stops the start before anything is written.
import path from 'node:path';

import { parseTelegram } from './channels.mjs';
import { CONTAINER, ENV } from './interface.mjs';
import { fail } from './log.mjs';
import { parseMcpServers } from './mcp.mjs';
import { parseSchedules } from './schedules.mjs';
import { parseAgentTeams } from './teams.mjs';

// The image's own settings, for running the entrypoint outside the image.
export const NANOCLAW_DIR_KEY = 'SMBOS_NANOCLAW_DIR';
export const CA_FILE_KEY = 'SMBOS_CA_FILE';

function absolute(env, name, fallback) {
  const value = env[name] || fallback;
  if (!value) fail(`${name} is not set`);
  if (!path.isAbsolute(value)) fail(`${name} must be an absolute path, got "${value}"`);
  return path.normalize(value);
}

function port(env, name, fallback) {
  const text = env[name] || String(fallback);
  const number = Number(text);
  if (!/^\d+$/.test(text) || number < 1 || number > 65535) fail(`${name} must be a TCP port, got "${text}"`);
  return number;
}

/** The entrypoint's settings from `env`; a SetupError names the first bad one. */
export function readConfig(env = process.env) {
  return {
    agentId: env[ENV.agent_id] || '(unnamed)',
    agentDir: absolute(env, ENV.agent_dir, CONTAINER.agent_dir),
    instanceDir: absolute(env, ENV.instance_dir),
    memoryDir: absolute(env, ENV.memory_dir),
    storeDir: absolute(env, ENV.store_dir, CONTAINER.store_dir),
    nanoclawDir: absolute(env, NANOCLAW_DIR_KEY, '/opt/nanoclaw'),
    relayPort: port(env, ENV.relay_port, CONTAINER.relay_port),
    telemetry: env[ENV.telemetry] || 'off',
    caFile: env[CA_FILE_KEY] || '/etc/smbos/ca/smbos-ca.crt',
    httpPort: port(env, ENV.runtime_port, CONTAINER.runtime_port),
    schedules: parseSchedules(env[ENV.schedules]),
    mcpServers: parseMcpServers(env[ENV.mcp_servers]),
    telegram: parseTelegram(env),
    agentTeams: parseAgentTeams(env),
  };
}
