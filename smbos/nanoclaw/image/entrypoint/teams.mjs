// Step 3d: agent teams and the agent's team (ADR 017).
//
//   SMBOS_AGENT_TEAMS  on | off: `runtime.swarms`. Unset (a Compose file from before the switch):
//                      the groups' settings are left as they are.
//
// NanoClaw gives each group its own Claude home, data/sessions/<folder>/.claude, mounted as
// ~/.claude of the group's turns (user settings: the agent runner loads `user` and `project`
// sources). It writes settings.json there only when the file is missing, and its defaults turn
// agent teams on (CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS=1) for every group.
//
// At every start, for every group of the agent (the web chat, which scheduled tasks use too,
// each declared Telegram chat, and any group the runtime has made a Claude home for):
//
//   - settings.json: SMBOS owns one key, env.CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS ("1" on, "0"
//     off); every other key stays as it is. A missing file is written as NanoClaw would write it
//     (RUNTIME_GROUP_SETTINGS), with the key set, so the runtime's first turn keeps it. A file
//     that is not a JSON object is left alone, with a warning.
//   - agents/: the files of the agent folder's team/*.md (Claude Code subagent definitions)
//     are installed under their own names. The ones SMBOS installed are listed in
//     .claude/.smbos-team.json; a member whose file is gone is removed, and a file SMBOS did
//     not install (the agent's own subagent) is never overwritten or removed.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { writeAtomic } from './files.mjs';
import { ENV, INSTANCE } from './interface.mjs';
import { fail, info as realInfo } from './log.mjs';

export const TEAMS_KEY = 'CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS';
// NanoClaw's settings for a new group (src/container-runner.ts of the pinned fork); a fast test
// compares them with the fork's source.
export const RUNTIME_GROUP_SETTINGS = Object.freeze({
  env: Object.freeze({
    CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS: '1',
    CLAUDE_CODE_ADDITIONAL_DIRECTORIES_CLAUDE_MD: '1',
    CLAUDE_CODE_DISABLE_AUTO_MEMORY: '0',
  }),
});
export const MANIFEST = '.smbos-team.json'; // in each group's .claude/: the files SMBOS installed
const TEAM_DIR = 'team';
const MEMBER_FILE = /^[A-Za-z0-9][A-Za-z0-9_-]*\.md$/;
const MAX_MEMBER_BYTES = 64 * 1024;
const GROUP_FOLDER = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** SMBOS_AGENT_TEAMS: true, false, or null when not said. */
export function parseAgentTeams(env) {
  const text = env[ENV.agent_teams];
  if (text === undefined) return null;
  if (!['on', 'off'].includes(text)) fail(`${ENV.agent_teams} must be on or off, got "${text}"`);
  return text === 'on';
}

/** The settings object with the agent-teams key set for `on`; null when `current` is not a
 * settings object (then it is left alone). Every other key is kept as it is. */
export function withAgentTeams(current, on) {
  const base = current === undefined ? RUNTIME_GROUP_SETTINGS : current;
  if (!base || typeof base !== 'object' || Array.isArray(base)) return null;
  const env = base.env === undefined ? {} : base.env;
  if (!env || typeof env !== 'object' || Array.isArray(env)) return null;
  return { ...base, env: { ...env, [TEAMS_KEY]: on ? '1' : '0' } };
}

/** The group folders of the agent: the web chat, the declared chats, and every folder the
 * runtime has a Claude home for. */
export function groupFolders(instanceDir, webChatFolder, chats) {
  const folders = new Set([webChatFolder, ...chats.map((c) => c.folder)]);
  const sessions = path.join(instanceDir, 'data', 'sessions');
  let entries = [];
  try {
    entries = fs.readdirSync(sessions, { withFileTypes: true });
  } catch {
    entries = [];
  }
  for (const entry of entries) {
    if (entry.isDirectory() && GROUP_FOLDER.test(entry.name)) folders.add(entry.name);
  }
  return [...folders].sort();
}

function sha256(data) {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/** The member files of `agentDir/team/`: [{file, data}], and the names left out with why. */
export function readMembers(agentDir) {
  const dir = path.join(agentDir, TEAM_DIR);
  const members = [];
  const skipped = [];
  let entries = [];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return { members, skipped };
  }
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (entry.name.startsWith('.') || !entry.name.endsWith('.md')) continue;
    const file = path.join(dir, entry.name);
    let st;
    try {
      st = fs.statSync(file);
    } catch {
      skipped.push(`${entry.name} (unreadable)`);
      continue;
    }
    if (!MEMBER_FILE.test(entry.name) || !st.isFile() || st.size > MAX_MEMBER_BYTES) {
      skipped.push(`${entry.name} (not a member file: \`smbos validate\` says why)`);
      continue;
    }
    members.push({ file: entry.name, data: fs.readFileSync(file) });
  }
  return { members, skipped };
}

/** What to do in one group's agents/ folder: files to write, to remove, and the agent's own
 * files left alone; `manifest` is what SMBOS installed last time ({file: sha256}). */
export function teamPlan(members, manifest, present) {
  const write = [];
  const kept = [];
  const installed = {};
  for (const { file, data } of members) {
    if (present.has(file) && !(file in manifest)) {
      kept.push(file);
      continue;
    }
    installed[file] = sha256(data);
    write.push(file);
  }
  const remove = Object.keys(manifest).filter((f) => !(f in installed) && present.has(f)).sort();
  return { write, remove, kept, installed };
}

function readJson(file) {
  try {
    return { ok: true, data: JSON.parse(fs.readFileSync(file, 'utf8')) };
  } catch (err) {
    return { ok: false, missing: err.code === 'ENOENT' };
  }
}

/** settings.json of one group with the agent-teams key set; returns what was done. */
export function applyAgentTeams(claudeDir, on) {
  const file = path.join(claudeDir, 'settings.json');
  const read = readJson(file);
  if (!read.ok && !read.missing) return 'unreadable';
  const next = withAgentTeams(read.ok ? read.data : undefined, on);
  if (next === null) return 'unreadable';
  const text = `${JSON.stringify(next, null, 2)}\n`;
  let mode = 0o644;
  try {
    mode = fs.statSync(file).mode & 0o777;
  } catch {
    mode = 0o644;
  }
  if (!read.ok || JSON.stringify(read.data) !== JSON.stringify(next)) writeAtomic(file, text, mode);
  return read.ok ? 'updated' : 'created';
}

/** The team in one group's agents/ folder; returns the plan carried out. */
export function installTeam(claudeDir, members) {
  const dir = path.join(claudeDir, 'agents');
  const manifestFile = path.join(claudeDir, MANIFEST);
  const read = readJson(manifestFile);
  const manifest = read.ok && read.data && typeof read.data.files === 'object' && read.data.files
    ? read.data.files : {};
  let present = new Set();
  try {
    present = new Set(fs.readdirSync(dir));
  } catch {
    present = new Set();
  }
  const plan = teamPlan(members, manifest, present);
  if (plan.write.length) fs.mkdirSync(dir, { recursive: true });
  const byFile = new Map(members.map((m) => [m.file, m.data]));
  for (const file of plan.write) writeAtomic(path.join(dir, file), byFile.get(file));
  for (const file of plan.remove) fs.rmSync(path.join(dir, file), { force: true });
  if (plan.write.length || Object.keys(manifest).length || read.ok) {
    writeAtomic(manifestFile, `${JSON.stringify({ files: plan.installed }, null, 2)}\n`);
  }
  return plan;
}

/** Both, for every group of the agent; logs one line each and a warning for what it left. */
export function prepareTeams(cfg, info = realInfo) {
  const { members, skipped } = readMembers(cfg.agentDir);
  const folders = groupFolders(cfg.instanceDir, INSTANCE.web_chat_folder, cfg.telegram.chats);
  const unreadable = [];
  const kept = new Set();
  let removed = 0;
  for (const folder of folders) {
    const claudeDir = path.join(cfg.instanceDir, 'data', 'sessions', folder, '.claude');
    fs.mkdirSync(claudeDir, { recursive: true });
    if (cfg.agentTeams !== null && applyAgentTeams(claudeDir, cfg.agentTeams) === 'unreadable') {
      unreadable.push(folder);
    }
    const plan = installTeam(claudeDir, members);
    plan.kept.forEach((f) => kept.add(f));
    removed += plan.remove.length;
  }
  const state = cfg.agentTeams === null ? `left as the runtime has them (${ENV.agent_teams} not set)`
    : `${cfg.agentTeams ? 'on' : 'off'} (runtime.swarms: ${cfg.agentTeams})`;
  info(`teams: ${state} in ${folders.length} group(s); team: ${members.length} member file(s)`
    + `${members.length ? ` (${members.map((m) => m.file).join(', ')})` : ''}`
    + `${removed ? `, ${removed} removed file(s)` : ''}`);
  if (unreadable.length) {
    info(`warning: teams: settings.json of ${unreadable.join(', ')} is not a JSON object; left as it is`);
  }
  if (kept.size) {
    info(`warning: team: not installed, a subagent file of that name is the agent's own: ${[...kept].sort().join(', ')}`);
  }
  if (skipped.length) info(`warning: team: left out: ${skipped.join(', ')}`);
  return { folders, members: members.map((m) => m.file) };
}
