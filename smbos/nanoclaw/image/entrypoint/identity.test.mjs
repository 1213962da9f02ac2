import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';

import { agentBody, readAgentMd, withIdentity, writeIdentity } from './identity.mjs';
import { IDENTITY } from './interface.mjs';

// The cases smbos/agentmd.py is proven on too (tests/test_agentmd.py runs both readers on them).
const CASES = JSON.parse(fs.readFileSync(new URL('../../../../tests/fixtures/agent-md-cases.json', import.meta.url), 'utf8'));
const { begin: BEGIN, end: END } = IDENTITY;

test('agent.md is read by the shared cases', () => {
  for (const c of CASES) {
    if (c.error) {
      assert.throws(() => readAgentMd(c.text), { message: `agent.md: ${c.error.field}: ${c.error.message}` }, c.name);
    } else {
      assert.deepEqual(readAgentMd(c.text), { front: c.front, body: c.body }, c.name);
      assert.equal(agentBody(c.text), c.body, c.name);
    }
  }
});

test('the identity block is stable across starts, whatever the body', () => {
  for (const c of CASES.filter((x) => !x.error)) {
    const once = withIdentity('notes the agent kept\n', c.body);
    assert.equal(withIdentity(once, c.body), once, c.name);
    assert.ok(once.endsWith('notes the agent kept\n'), c.name);
    assert.equal(once.split(END).length, 2, c.name);
  }
});

test('the block is replaced in place; stray markers are dropped and the block put first', () => {
  const current = `# Mine\n\n${BEGIN}\nold\n${END}\n\nmore\n`;
  assert.equal(withIdentity(current, 'new'), `# Mine\n\n${BEGIN}\nnew\n${END}\n\nmore\n`);
  assert.equal(withIdentity(`\n\n${END} kept ${BEGIN}`, ''), `${BEGIN}\n${END}\n\n kept `);
  assert.equal(withIdentity('', 'x'), `${BEGIN}\nx\n${END}\n`);
});

test("CLAUDE.md is written only when it changes, and a missing agent.md leaves the block empty", (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'identity-'));
  const cfg = { agentDir: path.join(root, 'agent'), memoryDir: path.join(root, 'memory'), instanceDir: path.join(root, 'state') };
  fs.mkdirSync(cfg.agentDir);
  fs.mkdirSync(cfg.memoryDir);
  const lines = [];
  t.mock.method(process.stdout, 'write', (text) => { lines.push(text); return true; });
  writeIdentity(cfg);
  const claude = path.join(cfg.memoryDir, 'CLAUDE.md');
  assert.equal(fs.readFileSync(claude, 'utf8'), `${BEGIN}\n${END}\n`);
  assert.match(lines[0], /warning: .*agent\.md not found; the identity block is left empty/);
  fs.writeFileSync(path.join(cfg.agentDir, 'agent.md'), '---\nname: A\n---\n\nBe brief.\n');
  writeIdentity(cfg);
  const written = fs.statSync(claude).ino; // a rewrite renames a new file into place
  writeIdentity(cfg);
  assert.equal(fs.statSync(claude).ino, written);
  assert.equal(fs.readFileSync(claude, 'utf8'), `${BEGIN}\nBe brief.\n${END}\n`);
  assert.equal(lines.at(-1), `smbos-entrypoint: identity: 9 characters from agent.md in ${path.join(cfg.instanceDir, 'groups', 'web-chat', 'CLAUDE.md')}\n`);
});
