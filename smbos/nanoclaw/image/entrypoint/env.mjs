// Step 3: the agent's .env, read one way (here and, the same way, smbos/envfile.py: ADR 011) and
// copied to <instance>/.env, mode 600, where NanoClaw reads it.
//
// The reading is NanoClaw's (src/env.ts) plus `export `: a line is `KEY=value`, optionally after
// `export `; a line whose first non-blank character is `#` is a comment; the value is everything
// after the first `=`, trimmed, with one pair of matching quotes removed; a key set twice keeps
// the last value. Every use of .env in the image goes through `envLine`.
import fs from 'node:fs';
import path from 'node:path';

import { writeAtomic } from './files.mjs';
import { attempt, fail, fsProblem, info } from './log.mjs';

/** One line of a .env text: {key, value}, or null for a comment, a blank or any other line. */
export function envLine(raw) {
  let line = raw.trim();
  if (!line || line.startsWith('#')) return null;
  if (line.startsWith('export ')) line = line.slice(7).trim();
  const eq = line.indexOf('=');
  if (eq <= 0) return null;
  let value = line.slice(eq + 1).trim();
  if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) {
    value = value.slice(1, -1);
  }
  return { key: line.slice(0, eq).trim(), value };
}

/** The KEY=value lines of a .env text, in order (a key set twice appears twice). */
export function envEntries(text) {
  return text.split('\n').map(envLine).filter(Boolean);
}

/** KEY: value of a .env text (a key set twice keeps the last value). */
export function parseEnvText(text) {
  const values = {};
  for (const { key, value } of envEntries(text)) values[key] = value;
  return values;
}

/** The .env text without the lines that set `key`; every other line byte for byte. */
export function withoutKey(text, key) {
  return text.split('\n').filter((line) => envLine(line)?.key !== key).join('\n');
}

// Claude Code's non-essential traffic (telemetry, error reports), off in every turn unless the
// agent's config.yaml says `runtime.telemetry: true` or .env sets the keys itself.
export const TELEMETRY_OFF = Object.freeze(['CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC', 'DISABLE_TELEMETRY', 'DISABLE_ERROR_REPORTING']);

/** The copy of the agent's .env text NanoClaw gets: without `withheld` keys, with the telemetry
 * switches added unless `telemetry` is on; and the keys it sets. */
export function envCopy(text, { withheld = [], telemetry = 'off' } = {}) {
  let copy = text;
  for (const key of withheld) copy = withoutKey(copy, key);
  const keys = envEntries(copy).map((entry) => entry.key);
  const added = telemetry === 'on' ? [] : TELEMETRY_OFF.filter((key) => !keys.includes(key));
  if (added.length) {
    copy = `${copy.replace(/\s*$/, '')}\n# added by SMBOS (runtime.telemetry: false)\n${added.map((key) => `${key}=1`).join('\n')}\n`;
  }
  return { text: copy, keys, added };
}

/** <agent>/.env copied to <instance>/.env, mode 600; a stale copy removed when there is none. */
export function copyEnv(cfg, withheld = []) {
  const source = path.join(cfg.agentDir, '.env');
  const target = path.join(cfg.instanceDir, '.env');
  let content;
  try {
    content = fs.readFileSync(source);
  } catch (err) {
    if (err.code === 'ENOENT') {
      attempt('remove', target, () => fs.rmSync(target, { force: true }));
      info(`no ${source}: NanoClaw runs without credentials`);
      return;
    }
    if (err.code === 'EISDIR') fail(`${source} is a directory, expected a file of KEY=VALUE lines`);
    fail(fsProblem(err, source, 'read'));
  }
  const copy = envCopy(content.toString('utf8'), { withheld, telemetry: cfg.telemetry });
  attempt('write', target, () => writeAtomic(target, copy.text, 0o600));
  if (!copy.keys.includes('ANTHROPIC_API_KEY') && !copy.keys.includes('CLAUDE_CODE_OAUTH_TOKEN')) {
    info(`warning: ${source} has neither ANTHROPIC_API_KEY nor CLAUDE_CODE_OAUTH_TOKEN`);
  }
  info(`.env: ${copy.keys.length} keys copied to ${target} (mode 600)${copy.added.length ? '; telemetry off in turns' : ''}`);
}

/** The values of the copied .env (empty when there is none). */
export function readEnvCopy(cfg) {
  try {
    return parseEnvText(fs.readFileSync(path.join(cfg.instanceDir, '.env'), 'utf8'));
  } catch {
    return {};
  }
}
