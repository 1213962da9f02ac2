import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';

import { TELEMETRY_OFF, copyEnv, envCopy, envEntries, envLine, parseEnvText, readEnvCopy, withoutKey } from './env.mjs';

// NanoClaw's own reader (src/env.ts of the pinned fork), for the keys it is asked for.
function nanoclawReads(text, key) {
  let found;
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const eq = trimmed.indexOf('=');
    if (eq === -1 || trimmed.slice(0, eq).trim() !== key) continue;
    let value = trimmed.slice(eq + 1).trim();
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) value = value.slice(1, -1);
    if (value) found = value;
  }
  return found;
}

function randomTexts(seed, count) {
  const pieces = ['K', 'TELEGRAM_BOT_TOKEN', 'export ', 'export\t', '=', ' ', '\t', '#', "'", '"', 'x', '\r', '\n', '\r\n', '\u00a0', '\ufeff', 'v'];
  let state = seed;
  const next = (n) => { state = (state * 1103515245 + 12345) % 2147483648; return state % n; };
  return Array.from({ length: count }, () => Array.from({ length: 1 + next(24) }, () => pieces[next(pieces.length)]).join(''));
}

test('a line is read as KEY=value, after `export `, with one pair of quotes removed', () => {
  assert.deepEqual(envLine('  export K = "a # b" '), { key: 'K', value: 'a # b' });
  assert.deepEqual(envLine("K='x"), { key: 'K', value: "'x" });
  assert.deepEqual(envLine('K=a=b\r'), { key: 'K', value: 'a=b' });
  for (const line of ['', '  ', '# K=v', '  #K=v', '=v', 'novalue']) assert.equal(envLine(line), null, line);
  assert.deepEqual(parseEnvText('A=1\r\nA=2\nB=\n'), { A: '2', B: '' });
  assert.deepEqual(envEntries('A=1\nA=2\n').map((e) => e.key), ['A', 'A']);
});

test('a key is taken out of every line that sets it, by this reading and by NanoClaw\'s; the rest byte for byte', () => {
  const text = 'A=1\nTELEGRAM_BOT_TOKEN=1:a\n export TELEGRAM_BOT_TOKEN = "x"\r\nTELEGRAM_BOT_TOKEN\t=2:b\nTELEGRAM_BOT_TOKEN  = 3:c\n# TELEGRAM_BOT_TOKEN=c\nTELEGRAM_BOT_TOKENS=keep\nB=2\n';
  assert.equal(withoutKey(text, 'TELEGRAM_BOT_TOKEN'), 'A=1\n# TELEGRAM_BOT_TOKEN=c\nTELEGRAM_BOT_TOKENS=keep\nB=2\n');
  for (const t of randomTexts(23, 500)) {
    const left = withoutKey(t, 'TELEGRAM_BOT_TOKEN');
    assert.equal(parseEnvText(left).TELEGRAM_BOT_TOKEN, undefined, JSON.stringify(t));
    assert.equal(nanoclawReads(left, 'TELEGRAM_BOT_TOKEN'), undefined, JSON.stringify(t));
    const { TELEGRAM_BOT_TOKEN: _, ...rest } = parseEnvText(t);
    assert.deepEqual(parseEnvText(left), rest, JSON.stringify(t));
  }
});

test('the copy adds the telemetry switches the .env does not set, unless telemetry is on', () => {
  const copy = envCopy('ANTHROPIC_API_KEY=k\nDISABLE_TELEMETRY=0\n\n');
  assert.equal(copy.text, 'ANTHROPIC_API_KEY=k\nDISABLE_TELEMETRY=0\n# added by SMBOS (runtime.telemetry: false)\nCLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1\nDISABLE_ERROR_REPORTING=1\n');
  assert.deepEqual(copy.keys, ['ANTHROPIC_API_KEY', 'DISABLE_TELEMETRY']);
  assert.deepEqual(envCopy('A=1\n', { telemetry: 'on' }), { text: 'A=1\n', keys: ['A'], added: [] });
  assert.deepEqual(envCopy('T=1\nA=2', { withheld: ['T'], telemetry: 'on' }).text, 'A=2');
  assert.equal(TELEMETRY_OFF.length, 3);
});

test('.env is copied with mode 600, a stale copy removed, only counts and key names logged', (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'env-'));
  const cfg = { agentDir: path.join(root, 'agent'), instanceDir: path.join(root, 'state'), telemetry: 'off' };
  fs.mkdirSync(cfg.agentDir);
  fs.mkdirSync(cfg.instanceDir);
  const lines = [];
  t.mock.method(process.stdout, 'write', (text) => { lines.push(text); return true; });
  fs.writeFileSync(path.join(cfg.agentDir, '.env'), 'NOTION_TOKEN=ntn-secret-value\nTELEGRAM_BOT_TOKEN=1:abc\n');
  copyEnv(cfg, ['TELEGRAM_BOT_TOKEN']);
  const target = path.join(cfg.instanceDir, '.env');
  assert.equal(fs.statSync(target).mode & 0o777, 0o600);
  assert.deepEqual(readEnvCopy(cfg), { NOTION_TOKEN: 'ntn-secret-value', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DISABLE_TELEMETRY: '1', DISABLE_ERROR_REPORTING: '1' });
  assert.deepEqual(lines, [
    `smbos-entrypoint: warning: ${path.join(cfg.agentDir, '.env')} has neither ANTHROPIC_API_KEY nor CLAUDE_CODE_OAUTH_TOKEN\n`,
    `smbos-entrypoint: .env: 1 keys copied to ${target} (mode 600); telemetry off in turns\n`]);
  assert.ok(!lines.join('').includes('ntn-secret-value') && !lines.join('').includes('1:abc'));
  fs.rmSync(path.join(cfg.agentDir, '.env'));
  copyEnv(cfg);
  assert.equal(fs.existsSync(target), false);
  assert.deepEqual(readEnvCopy(cfg), {});
  fs.mkdirSync(path.join(cfg.agentDir, '.env'));
  assert.throws(() => copyEnv(cfg), { message: `${path.join(cfg.agentDir, '.env')} is a directory, expected a file of KEY=VALUE lines` });
});
