import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';

import { copyAgentRunner } from './runner.mjs';

test("NanoClaw's per-turn sources replace the instance's copy; a tree it lacks is skipped", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'runner-'));
  const cfg = { nanoclawDir: path.join(root, 'nanoclaw'), instanceDir: path.join(root, 'state') };
  const src = path.join(cfg.nanoclawDir, 'container', 'agent-runner', 'src');
  fs.mkdirSync(src, { recursive: true });
  fs.writeFileSync(path.join(src, 'index.ts'), 'new');
  const stale = path.join(cfg.instanceDir, 'container', 'agent-runner', 'src');
  fs.mkdirSync(stale, { recursive: true });
  fs.writeFileSync(path.join(stale, 'removed.ts'), 'old');
  assert.deepEqual(copyAgentRunner(cfg), ['container/agent-runner/src']);
  assert.deepEqual(fs.readdirSync(stale), ['index.ts']);
  assert.equal(fs.existsSync(path.join(cfg.instanceDir, 'container', 'skills')), false);
});
