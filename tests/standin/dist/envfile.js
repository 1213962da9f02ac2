// Reading `<cwd>/.env` the way NanoClaw does: KEY=VALUE lines, `#` comments,
// an optional `export ` prefix, and one pair of matching quotes around a value.
import fs from 'node:fs';
import path from 'node:path';

export function parseEnvText(text) {
  const values = {};
  for (const rawLine of text.split(/\r?\n/)) {
    let line = rawLine.trim();
    if (!line || line.startsWith('#')) continue;
    if (line.startsWith('export ')) line = line.slice('export '.length).trim();
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim();
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) {
      value = value.slice(1, -1);
    }
    values[key] = value;
  }
  return values;
}

/** The pairs of `<dir>/.env`, or {} when the file is absent or unreadable. */
export function readEnvFile(dir) {
  try {
    return parseEnvText(fs.readFileSync(path.join(dir, '.env'), 'utf8'));
  } catch {
    return {};
  }
}
