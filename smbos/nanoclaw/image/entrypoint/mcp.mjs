// Step 3b: the agent's MCP servers. SMBOS owns groups/web-chat/.mcp.json (the runtime's agent
// loads it from the group folder): the servers of config.yaml (SMBOS_MCP_SERVERS), each with the
// values of its .env keys written literally (older SDKs do not expand ${VAR}). Mode 600; a key
// missing from .env is left out and named, never a value.
import path from 'node:path';

import { readEnvCopy } from './env.mjs';
import { writeAtomic } from './files.mjs';
import { ENV, INSTANCE } from './interface.mjs';
import { attempt, fail, info } from './log.mjs';

/** SMBOS_MCP_SERVERS: {name: {command, args: [..], env: {VAR: KEY of .env}, values: {VAR: text}}};
 * null when unset. */
export function parseMcpServers(text) {
  if (text === undefined) return null;
  let servers;
  try {
    servers = JSON.parse(text || '{}');
  } catch (err) {
    fail(`${ENV.mcp_servers} is not valid JSON: ${err.message}`);
  }
  if (!servers || typeof servers !== 'object' || Array.isArray(servers)) {
    fail(`${ENV.mcp_servers} must be a JSON object`);
  }
  for (const [name, server] of Object.entries(servers)) {
    const where = `${ENV.mcp_servers}.${name}`;
    if (!server || typeof server.command !== 'string' || !server.command) fail(`${where}.command must be a non-empty string`);
    if (!Array.isArray(server.args || []) || (server.args || []).some((a) => typeof a !== 'string')) fail(`${where}.args must be a list of strings`);
    if (typeof (server.env || {}) !== 'object') fail(`${where}.env must be an object`);
    if (typeof (server.values || {}) !== 'object') fail(`${where}.values must be an object`);
  }
  return servers;
}

/** The .mcp.json content of `servers` with the values of `env`, and the `server:KEY` pairs
 * `env` lacks. */
export function mcpConfig(servers, env) {
  const mcpServers = {};
  const missing = [];
  for (const [name, server] of Object.entries(servers)) {
    // `values`: fixed values (where a credential file is in the per-turn container).
    const serverEnv = { ...(server.values || {}) };
    for (const [variable, key] of Object.entries(server.env || {})) {
      if (env[key]) serverEnv[variable] = env[key];
      else missing.push(`${name}:${key}`);
    }
    mcpServers[name] = { command: server.command, args: server.args || [], env: serverEnv };
  }
  return { config: { mcpServers }, missing };
}

export function writeMcpConfig(cfg) {
  if (cfg.mcpServers === null) return;
  const file = path.join(cfg.instanceDir, 'groups', INSTANCE.web_chat_folder, INSTANCE.mcp_config);
  const { config, missing } = mcpConfig(cfg.mcpServers, readEnvCopy(cfg));
  attempt('write', file, () => writeAtomic(file, `${JSON.stringify(config, null, 2)}\n`, 0o600));
  const names = Object.keys(config.mcpServers);
  info(`mcp: ${names.length ? names.join(', ') : 'no servers'} in ${file} (mode 600)`);
  if (missing.length) info(`warning: mcp: not set in .env: ${missing.join(', ')}`);
}
