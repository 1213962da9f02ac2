import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';

import { RUNTIME_GROUP_SETTINGS, applyAgentTeams, parseAgentTeams, prepareTeams, teamPlan } from './teams.mjs';

const KEY = 'CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS';
const SCOUT = '---\nname: scout\ndescription: Finds sources for a question\n---\nYou are the scout.\n';
const EDITOR = '---\nname: editor\ndescription: Checks a draft\n---\nYou are the editor.\n';
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'teams-'));

function claudeHome(settings) {
  const dir = path.join(tmp(), '.claude');
  fs.mkdirSync(dir);
  if (settings !== undefined) fs.writeFileSync(path.join(dir, 'settings.json'), settings);
  return dir;
}

const read = (dir) => {
  const text = fs.readFileSync(path.join(dir, 'settings.json'), 'utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

test('the settings key is set and every other key survives, in its order', () => {
  const theirs = { env: { [KEY]: '1', CLAUDE_CODE_DISABLE_AUTO_MEMORY: '0', THEIR_KEY: 'kept' },
    permissions: { allow: ['Bash(ls:*)'] }, model: 'sonnet' };
  const dirs = [claudeHome(JSON.stringify(theirs)), claudeHome(), claudeHome('{not json'), claudeHome('{"env": ["x"]}')];
  assert.deepEqual(dirs.map((d) => applyAgentTeams(d, false)), ['updated', 'created', 'unreadable', 'unreadable']);
  const [mine, fresh, broken, listy] = dirs.map(read);
  assert.deepEqual(mine, { ...theirs, env: { ...theirs.env, [KEY]: '0' } });
  assert.deepEqual(Object.keys(mine), Object.keys(theirs));
  assert.deepEqual(fresh, { env: { ...RUNTIME_GROUP_SETTINGS.env, [KEY]: '0' } });
  assert.equal(broken, '{not json');
  assert.deepEqual(listy, { env: ['x'] });
  assert.deepEqual(dirs.map((d) => applyAgentTeams(d, true)), ['updated', 'updated', 'unreadable', 'unreadable']);
  assert.deepEqual(read(dirs[0]), { ...theirs, env: { ...theirs.env, [KEY]: '1' } });
  assert.equal(read(dirs[1]).env[KEY], '1');
});

test('SMBOS_AGENT_TEAMS is on, off or not said', () => {
  assert.deepEqual([parseAgentTeams({ SMBOS_AGENT_TEAMS: 'on' }), parseAgentTeams({ SMBOS_AGENT_TEAMS: 'off' }), parseAgentTeams({})], [true, false, null]);
  for (const bad of ['yes', '']) {
    assert.throws(() => parseAgentTeams({ SMBOS_AGENT_TEAMS: bad }), { message: `SMBOS_AGENT_TEAMS must be on or off, got "${bad}"` });
  }
});

test("the plan never writes over or removes a file SMBOS did not install", () => {
  const members = [{ file: 'a.md', data: 'A' }, { file: 'b.md', data: 'B' }];
  const plan = teamPlan(members, { 'a.md': 'old', 'gone.md': 'x', 'absent.md': 'y' }, new Set(['a.md', 'b.md', 'gone.md', 'mine.md']));
  assert.deepEqual(plan.write, ['a.md']);
  assert.deepEqual(plan.kept, ['b.md']);
  assert.deepEqual(plan.remove, ['gone.md']);
  assert.deepEqual(Object.keys(plan.installed), ['a.md']);
});

test("members are installed in every group, removed files removed, and the agent's own files left", () => {
  const agent = tmp();
  fs.mkdirSync(path.join(agent, 'team'));
  fs.writeFileSync(path.join(agent, 'team', 'scout.md'), SCOUT);
  fs.writeFileSync(path.join(agent, 'team', 'editor.md'), EDITOR);
  fs.writeFileSync(path.join(agent, 'team', 'notes.txt'), 'not a member');
  fs.writeFileSync(path.join(agent, 'team', 'two words.md'), SCOUT);
  const inst = tmp();
  // The agent's own subagent files, one with a member's file name; a group the runtime made.
  const own = path.join(inst, 'data', 'sessions', 'web-chat', '.claude', 'agents');
  fs.mkdirSync(own, { recursive: true });
  fs.writeFileSync(path.join(own, 'mine.md'), "the agent's own");
  fs.writeFileSync(path.join(own, 'editor.md'), "the agent's own editor");
  fs.mkdirSync(path.join(inst, 'data', 'sessions', 'old-group', '.claude'), { recursive: true });
  const cfg = { agentDir: agent, instanceDir: inst, agentTeams: false, telegram: { chats: [{ folder: 'telegram-42' }] } };
  const lines = [];
  const listing = () => Object.fromEntries(['web-chat', 'telegram-42', 'old-group'].map((g) => {
    const dir = path.join(inst, 'data', 'sessions', g, '.claude');
    const files = fs.existsSync(path.join(dir, 'agents')) ? fs.readdirSync(path.join(dir, 'agents')).sort() : [];
    return [g, {
      files: Object.fromEntries(files.map((f) => [f, fs.readFileSync(path.join(dir, 'agents', f), 'utf8')])),
      manifest: Object.keys(JSON.parse(fs.readFileSync(path.join(dir, '.smbos-team.json'), 'utf8')).files).sort(),
      teams: read(dir).env[KEY],
    }];
  }));
  assert.deepEqual(prepareTeams(cfg, (l) => lines.push(l)), { folders: ['old-group', 'telegram-42', 'web-chat'], members: ['editor.md', 'scout.md'] });
  const first = listing();
  assert.deepEqual(first['web-chat'], { files: { 'editor.md': "the agent's own editor", 'mine.md': "the agent's own", 'scout.md': SCOUT },
    manifest: ['scout.md'], teams: '0' });
  for (const g of ['telegram-42', 'old-group']) {
    assert.deepEqual(first[g], { files: { 'editor.md': EDITOR, 'scout.md': SCOUT }, manifest: ['editor.md', 'scout.md'], teams: '0' });
  }
  assert.deepEqual(lines, [
    'teams: off (runtime.swarms: false) in 3 group(s); team: 2 member file(s) (editor.md, scout.md)',
    "warning: team: not installed, a subagent file of that name is the agent's own: editor.md",
    'warning: team: left out: two words.md (not a member file: `smbos validate` says why)']);
  // scout.md taken out of team/: removed where SMBOS installed it; the agent's files stay.
  fs.unlinkSync(path.join(agent, 'team', 'scout.md'));
  prepareTeams({ ...cfg, agentTeams: true }, (l) => lines.push(l));
  const after = listing();
  assert.deepEqual(after['web-chat'], { files: { 'editor.md': "the agent's own editor", 'mine.md': "the agent's own" }, manifest: [], teams: '1' });
  assert.deepEqual(after['telegram-42'], { files: { 'editor.md': EDITOR }, manifest: ['editor.md'], teams: '1' });
  assert.deepEqual(after['old-group'], after['telegram-42']);
  assert.ok(lines.includes('teams: on (runtime.swarms: true) in 3 group(s); team: 1 member file(s) (editor.md), 3 removed file(s)'), lines);
});

test('without the switch the settings are left alone', () => {
  const inst = tmp();
  const claude = path.join(inst, 'data', 'sessions', 'web-chat', '.claude');
  fs.mkdirSync(claude, { recursive: true });
  fs.writeFileSync(path.join(claude, 'settings.json'), `{"env": {"${KEY}": "1"}}`);
  const lines = [];
  prepareTeams({ agentDir: tmp(), instanceDir: inst, agentTeams: null, telegram: { chats: [] } }, (l) => lines.push(l));
  assert.equal(fs.readFileSync(path.join(claude, 'settings.json'), 'utf8'), `{"env": {"${KEY}": "1"}}`);
  assert.deepEqual(lines, ['teams: left as the runtime has them (SMBOS_AGENT_TEAMS not set) in 1 group(s); team: 0 member file(s)']);
  assert.equal(fs.existsSync(path.join(claude, 'agents')), false);
});
