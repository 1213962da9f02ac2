// The entrypoint's steps in order (docs/container-interface.md, "What the image does at start");
// ../entrypoint.mjs runs them. As the non-root user 1000:1000, Node standard library only.
//
//   1.  instance.mjs   the instance directory: store/ -> SMBOS_STORE_DIR,
//                      groups/web-chat -> SMBOS_MEMORY_DIR, data/
//   2.  identity.mjs   the body of agent.md into the managed block of groups/web-chat/CLAUDE.md
//   3.  env.mjs        /smbos/agent/.env copied to <instance>/.env, mode 600 (without
//                      TELEGRAM_BOT_TOKEN when channels.telegram is off)
//   3b. mcp.mjs        groups/web-chat/.mcp.json from SMBOS_MCP_SERVERS and the .env copy
//   3c. channels.mjs   the declared Telegram chats queued for registration through NanoClaw's IPC
//   3d. teams.mjs      runtime.swarms in every group's Claude settings, the team/ members
//                      installed as the groups' subagents
//   4.  runner.mjs     NanoClaw's container/agent-runner/src copied into the instance directory
//   5.  relay.mjs      0.0.0.0:SMBOS_RELAY_PORT -> 127.0.0.1:HTTP_PORT; runtime.mjs: NanoClaw,
//                      signals forwarded, the container exits with its exit code
//   6.  schedules.mjs  once NanoClaw answers: SMBOS_SCHEDULES reconciled with its /api/tasks
//                      through its IPC; channels.mjs: the chats it serves checked
//
// Every failure is one line on stderr; no secret value is ever printed.
import os from 'node:os';
import path from 'node:path';

import { checkChats, prepareChats, withheldKeys } from './channels.mjs';
import { readConfig } from './config.mjs';
import { copyEnv } from './env.mjs';
import { writeIdentity } from './identity.mjs';
import { ensureSymlink, prepareInstance } from './instance.mjs';
import { IPC } from './interface.mjs';
import { tasksDir } from './ipc.mjs';
import { NAME, SetupError, attempt, info } from './log.mjs';
import { writeMcpConfig } from './mcp.mjs';
import { startRelay } from './relay.mjs';
import { copyAgentRunner } from './runner.mjs';
import { startRuntime } from './runtime.mjs';
import { reconcileSchedules } from './schedules.mjs';
import { prepareTeams } from './teams.mjs';

/** Steps 1 to 4: everything written before NanoClaw starts. */
export function prepare(cfg) {
  prepareInstance(cfg);
  writeIdentity(cfg);
  copyEnv(cfg, withheldKeys(cfg.telegram));
  writeMcpConfig(cfg);
  const chats = attempt('prepare', path.dirname(tasksDir(cfg.instanceDir, IPC.main_folder)),
    () => prepareChats(cfg, ensureSymlink));
  if (chats) info(`telegram: ${chats} chat(s) queued for registration through NanoClaw's IPC`);
  attempt('prepare', path.join(cfg.instanceDir, 'data', 'sessions'), () => prepareTeams(cfg));
  copyAgentRunner(cfg);
}

export async function main() {
  // A stop request during setup ends the container at once.
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => process.exit(128 + os.constants.signals[signal]));
  }
  const cfg = readConfig();
  prepare(cfg);
  const relay = await startRelay(cfg);
  startRuntime(cfg, relay);
  reconcileSchedules(cfg).catch((err) => info(`warning: schedules: ${err.message}`));
  checkChats(cfg).catch((err) => info(`warning: telegram: ${err.message}`));
}

/** main(), a failure printed as one line on stderr, exit 1. */
export function run() {
  main().catch((err) => {
    const message = err instanceof SetupError ? err.message : `unexpected error: ${err.stack || err}`;
    process.stderr.write(`${NAME}: error: ${message}\n`);
    process.exit(1);
  });
}
