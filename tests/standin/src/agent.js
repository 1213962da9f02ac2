// One agent turn. Instead of calling a model, the stand-in answers with a single
// line of key=value pairs that lets a test see which agent answered, whether the
// identity reached its memory file, and whether a credential was present, without
// revealing it. In container mode the turn runs in a short-lived container, as
// NanoClaw runs each turn, and the reply also says what that container saw.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';

import { readEnvFile } from './envfile.js';

export const WEB_CHAT_JID = 'web-chat@smbos';
export const WEB_CHAT_FOLDER = 'web-chat';
const BEGIN = '<!-- smbos:identity:begin -->';
const END = '<!-- smbos:identity:end -->';
const CONTAINER_OUTPUT_SEPARATOR = '----smbos-standin----';

export function sha256(text) {
  return crypto.createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Percent-encodes `%`, whitespace and control characters so a value holds no space. */
export function encodeValue(value) {
  return String(value).replace(/[%\s\u0000-\u001f\u007f]/gu, (ch) =>
    [...Buffer.from(ch, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

/** The identity block of a CLAUDE.md text: {sha256, title}, or nulls when there is none. */
export function identityOf(text) {
  if (typeof text !== 'string') return { sha256: null, title: null };
  const begin = text.indexOf(BEGIN);
  if (begin < 0) return { sha256: null, title: null };
  const end = text.indexOf(END, begin + BEGIN.length);
  if (end < 0) return { sha256: null, title: null };
  const block = text.slice(begin + BEGIN.length, end).trim();
  let title = null;
  for (const line of block.split(/\r?\n/)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (m) {
      title = m[1];
      break;
    }
  }
  return { sha256: sha256(block), title };
}

function readText(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** Which credential `<cwd>/.env` holds (never the process environment), and a short hash. */
export function credentialOf(cwd) {
  const env = readEnvFile(cwd);
  if (env.ANTHROPIC_API_KEY) return { kind: 'anthropic_api_key', hash: sha256(env.ANTHROPIC_API_KEY).slice(0, 12) };
  if (env.CLAUDE_CODE_OAUTH_TOKEN) return { kind: 'oauth_token', hash: sha256(env.CLAUDE_CODE_OAUTH_TOKEN).slice(0, 12) };
  return { kind: 'none', hash: 'none' };
}

/** Checks the container system at start, as the fork does (`container system status`).
 *  Returns {ok, reason}. */
export function checkContainerSystem() {
  const result = spawnSync('container', ['system', 'status'], { encoding: 'utf8', timeout: 20000 });
  if (result.error) {
    return { ok: false, reason: result.error.code === 'ENOENT' ? 'container CLI not on PATH' : result.error.message };
  }
  if (result.status !== 0) {
    // `docker info` prints the engine's error under "Server:" on stdout, a summary on stderr.
    const lines = `${result.stdout || ''}\n${result.stderr || ''}`.split('\n').map((l) => l.trim()).filter(Boolean);
    const detail = lines.find((l) => /cannot connect|permission denied|no such file/i.test(l)) || lines[0] || '';
    return { ok: false, reason: `container system status exited ${result.status}: ${detail}` };
  }
  const version = /Server Version:\s*(\S+)/.exec(result.stdout || '');
  return { ok: true, reason: `engine ${version ? version[1] : 'reachable'}` };
}

/** The fork's start-up cleanup: stop every running container whose name starts with
 *  `nanoclaw-`, as `container ls --format json` lists them. Returns the names stopped. */
export function stopOrphans(log) {
  const listed = spawnSync('container', ['ls', '--format', 'json'], { encoding: 'utf8', timeout: 20000 });
  let containers;
  try {
    containers = JSON.parse(listed.stdout || '[]');
  } catch (err) {
    log(`Failed to clean up orphaned containers: ${err.message}`);
    return [];
  }
  const orphans = containers
    .filter((c) => c.status === 'running' && c.configuration.id.startsWith('nanoclaw-'))
    .map((c) => c.configuration.id);
  for (const name of orphans) spawnSync('container', ['stop', name], { stdio: 'ignore', timeout: 30000 });
  if (orphans.length) log(`Stopped orphaned containers: ${orphans.join(', ')}`);
  return orphans;
}

function runContainer(config, folder) {
  const cwd = process.cwd();
  const groupDir = path.join(cwd, 'groups', folder);
  const runnerDir = path.join(cwd, 'container', 'agent-runner', 'src');
  // Named as the fork names its turns; the `container` CLI of the image adds SMBOS's policy.
  const name = `nanoclaw-${folder.replace(/[^a-zA-Z0-9-]/g, '-')}-${Date.now()}`;
  const args = ['run', '--rm', '--name', name];
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    args.push('--user', `${process.getuid()}:${process.getgid()}`);
  }
  // The source paths are the ones under the working directory, as given: the
  // engine resolves them on its own host (hence SMBOS's path parity).
  args.push('-v', `${groupDir}:/workspace/group`);
  const withRunner = fs.existsSync(runnerDir);
  if (withRunner) args.push('-v', `${runnerDir}:/app/src:ro`);
  const script = [
    'ls -A /workspace/group | tr "\\n" "," ; echo',
    withRunner ? 'ls -A /app/src | tr "\\n" "," ; echo' : 'echo',
    `echo ${CONTAINER_OUTPUT_SEPARATOR}`,
    'cat /workspace/group/CLAUDE.md 2>/dev/null || true',
  ].join('; ');
  args.push('--entrypoint', '/bin/sh', config.containerImage, '-c', script);

  return new Promise((resolve) => {
    const child = spawn('container', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
      spawn('container', ['stop', name], { stdio: 'ignore' }).on('error', () => {});
    }, config.containerTimeoutMs);
    child.stdout.on('data', (d) => {
      if (out.length < config.containerMaxOutput) out += d;
    });
    child.stderr.on('data', (d) => {
      if (err.length < 4096) err += d;
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ ok: false, error: `cannot run container: ${e.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) return resolve({ ok: false, error: `agent container ${name} timed out` });
      if (code !== 0) {
        const detail = err.trim().split('\n').pop() || '';
        return resolve({ ok: false, error: `agent container ${name} exited ${code}: ${detail}` });
      }
      const sep = out.indexOf(`${CONTAINER_OUTPUT_SEPARATOR}\n`);
      const head = sep >= 0 ? out.slice(0, sep) : out;
      const claude = sep >= 0 ? out.slice(sep + CONTAINER_OUTPUT_SEPARATOR.length + 1) : '';
      const [filesLine = '', runnerLine = ''] = head.split('\n');
      const list = (line) => line.split(',').filter(Boolean).sort().join(',');
      resolve({
        ok: true,
        name,
        files: list(filesLine),
        runner: withRunner ? list(runnerLine) : null,
        identity: identityOf(claude).sha256,
      });
    });
  });
}

/**
 * The MCP servers the agent's SDK would load from `<group>/.mcp.json`: `name:VAR=<first 12 hex
 * of sha256(value)>+...` per server, comma-separated; `none` without the file. Never a value.
 */
export function mcpOf(groupDir) {
  let doc;
  try {
    doc = JSON.parse(fs.readFileSync(path.join(groupDir, '.mcp.json'), 'utf8'));
  } catch {
    return 'none';
  }
  const servers = Object.entries((doc && doc.mcpServers) || {});
  if (!servers.length) return 'empty';
  return servers.map(([name, server]) => {
    const env = Object.entries(server.env || {}).sort(([a], [b]) => a.localeCompare(b))
      .map(([variable, value]) => `${variable}=${crypto.createHash('sha256').update(String(value)).digest('hex').slice(0, 12)}`);
    return `${name}:${server.command}${env.length ? `:${env.join('+')}` : ''}`;
  }).join(',');
}

// What NanoClaw writes into a group's Claude home when it has no settings yet
// (src/container-runner.ts): agent teams on.
const RUNTIME_GROUP_SETTINGS = {
  env: {
    CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS: '1',
    CLAUDE_CODE_ADDITIONAL_DIRECTORIES_CLAUDE_MD: '1',
    CLAUDE_CODE_DISABLE_AUTO_MEMORY: '0',
  },
};

/**
 * The group's Claude home (data/sessions/<folder>/.claude, a turn's ~/.claude), kept as NanoClaw
 * keeps it at each turn: settings.json written only when missing. Returns what a turn would run
 * with: {teams: on|off (the settings' CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS), subagents: the
 * names of agents/*.md, comma-separated, or none}.
 */
export function claudeHomeOf(cwd, folder) {
  const home = path.join(cwd, 'data', 'sessions', folder, '.claude');
  fs.mkdirSync(home, { recursive: true });
  const file = path.join(home, 'settings.json');
  if (!fs.existsSync(file)) fs.writeFileSync(file, `${JSON.stringify(RUNTIME_GROUP_SETTINGS, null, 2)}\n`);
  let teams = 'off';
  try {
    const value = JSON.parse(fs.readFileSync(file, 'utf8')).env.CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS;
    teams = ['1', 'true'].includes(String(value).toLowerCase()) ? 'on' : 'off';
  } catch {
    teams = 'off'; // settings Claude Code cannot read set nothing
  }
  let subagents = [];
  try {
    subagents = fs.readdirSync(path.join(home, 'agents')).filter((f) => f.endsWith('.md'))
      .map((f) => f.slice(0, -3)).sort();
  } catch {
    subagents = [];
  }
  return { teams, subagents: subagents.join(',') || 'none' };
}

/**
 * Runs one turn for `folder` with `prompt`. Resolves to {ok, text} or {ok:false, error}.
 * `extra` is a list of [key, value] pairs put in front of the reply (scheduled tasks).
 */
export async function runTurn(config, folder, prompt, extra = []) {
  const cwd = process.cwd();
  const identity = identityOf(readText(path.join(cwd, 'groups', folder, 'CLAUDE.md')));
  const credential = credentialOf(cwd);
  const pairs = [
    ...extra,
    ['assistant', config.assistantName],
    ['identity_sha256', identity.sha256 || 'none'],
    ['identity_title', identity.title ?? 'none'],
    ['credential', credential.kind],
    ['credential_sha256_12', credential.hash],
    ['telegram', config.telegramBotToken ? 'on' : 'off'],
    ['tz', process.env.TZ || 'none'],
    ['agent_runner', fs.existsSync(path.join(cwd, 'container', 'agent-runner', 'src')) ? 'present' : 'absent'],
    ['isolation', config.containerMode ? 'container' : 'in-process'],
    ['mcp', mcpOf(path.join(cwd, 'groups', folder))],
  ];
  const home = claudeHomeOf(cwd, folder);
  pairs.push(['teams', home.teams], ['subagents', home.subagents]);
  if (config.containerMode) {
    const seen = await runContainer(config, folder);
    if (!seen.ok) return { ok: false, error: seen.error };
    pairs.push(['container_saw_identity_sha256', seen.identity || 'none']);
    pairs.push(['container_saw_files', seen.files || 'none']);
    if (seen.runner !== null) pairs.push(['container_saw_runner', seen.runner || 'none']);
  }
  pairs.push(['echo', prompt]);
  return { ok: true, text: pairs.map(([k, v]) => `${k}=${encodeValue(v)}`).join(' ') };
}
