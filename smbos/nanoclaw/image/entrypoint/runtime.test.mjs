import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';

import { exitStatus, runtimeEnv, startRuntime } from './runtime.mjs';

test("NanoClaw's environment: the token withheld while Telegram is off, the build's CA when it has one", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runtime-'));
  const env = { TELEGRAM_BOT_TOKEN: '1:abc', PATH: '/bin' };
  const cfg = { instanceDir: '/state/a', telegram: { enabled: false }, caFile: path.join(dir, 'ca.crt') };
  assert.deepEqual(runtimeEnv(cfg, env), { PATH: '/bin', PWD: '/state/a' });
  assert.equal(runtimeEnv({ ...cfg, telegram: { enabled: null } }, env).TELEGRAM_BOT_TOKEN, '1:abc');
  fs.writeFileSync(cfg.caFile, '');
  assert.equal(runtimeEnv(cfg, env).NODE_EXTRA_CA_CERTS, undefined, 'an empty CA file is no CA');
  fs.writeFileSync(cfg.caFile, '-----BEGIN CERTIFICATE-----\n');
  assert.equal(runtimeEnv(cfg, env).NODE_EXTRA_CA_CERTS, cfg.caFile);
  assert.equal(runtimeEnv(cfg, { ...env, NODE_EXTRA_CA_CERTS: '/mine.pem' }).NODE_EXTRA_CA_CERTS, '/mine.pem');
});

test("the container's exit status is NanoClaw's code, or 128 + the signal that ended it", () => {
  assert.equal(exitStatus(0, null), 0);
  assert.equal(exitStatus(3, null), 3);
  assert.equal(exitStatus(null, 'SIGTERM'), 143);
  assert.equal(exitStatus(null, 'SIGKILL'), 137);
});

test('a NanoClaw that is not there is one line, before anything starts', () => {
  const nanoclawDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nanoclaw-'));
  assert.throws(() => startRuntime({ nanoclawDir, instanceDir: '/', telegram: { enabled: null } }, { close() {} }),
    { message: `NanoClaw not found: ${path.join(nanoclawDir, 'dist', 'index.js')} does not exist` });
});
