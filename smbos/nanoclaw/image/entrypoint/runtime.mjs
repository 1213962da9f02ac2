// Step 5b: NanoClaw itself, `node <nanoclaw>/dist/index.js` with the instance directory as its
// working directory. Signals are forwarded; when it exits the container exits with its code
// (128 + the signal's number when a signal ended it).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';

import { TOKEN_KEY } from './channels.mjs';
import { NAME, fail, info } from './log.mjs';

export const FORWARDED = Object.freeze(['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT']);

/** NanoClaw's environment: the container's, without the Telegram token when Telegram is off,
 * with the extra CA of `smbos build --ca-cert` (a proxy that intercepts TLS, a private gateway)
 * when the image has one. */
export function runtimeEnv(cfg, env = process.env) {
  const out = { ...env, PWD: cfg.instanceDir };
  if (cfg.telegram.enabled === false) delete out[TOKEN_KEY];
  let caSize = 0;
  try {
    caSize = fs.statSync(cfg.caFile).size;
  } catch {
    caSize = 0;
  }
  if (caSize > 0 && !out.NODE_EXTRA_CA_CERTS) out.NODE_EXTRA_CA_CERTS = cfg.caFile;
  return out;
}

/** The container's exit status for a child that exited with `code` or was ended by `signal`. */
export function exitStatus(code, signal) {
  return code !== null ? code : 128 + (os.constants.signals[signal] || 0);
}

/** Starts NanoClaw; the process exits when it does (after closing `relay`). */
export function startRuntime(cfg, relay) {
  const entry = path.join(cfg.nanoclawDir, 'dist', 'index.js');
  if (!fs.existsSync(entry)) fail(`NanoClaw not found: ${entry} does not exist`);
  const child = spawn(process.execPath, [entry], {
    cwd: cfg.instanceDir,
    env: runtimeEnv(cfg),
    stdio: 'inherit',
  });
  info(`agent ${cfg.agentId}: NanoClaw pid ${child.pid} in ${cfg.instanceDir}; relay 0.0.0.0:${cfg.relayPort} -> 127.0.0.1:${cfg.httpPort}`);
  for (const signal of FORWARDED) {
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
    info(`NanoClaw exited (${code !== null ? `code ${code}` : `signal ${signal}`}); container exits ${exitStatus(code, signal)}`);
    relay.close();
    process.exit(exitStatus(code, signal));
  });
  return child;
}
