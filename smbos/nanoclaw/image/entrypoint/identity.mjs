// Step 2: the identity. The body of agent.md goes into the managed block of
// groups/web-chat/CLAUDE.md (= the memory folder's CLAUDE.md); everything else there is kept.
//
// agent.md is read by the rules of smbos/agentmd.py (its docstring), proven on the same cases
// (tests/fixtures/agent-md-cases.json, tests/test_agentmd.py): one reading, in Python and here.
import fs from 'node:fs';
import path from 'node:path';

import { writeAtomic } from './files.mjs';
import { IDENTITY, INSTANCE } from './interface.mjs';
import { attempt, fail, fsProblem, info } from './log.mjs';

const { begin: BEGIN, end: END } = IDENTITY;
const trailingBlank = (line) => line.replace(/[ \t]+$/, '');
const trimBody = (text) => text.replace(/^[ \t\n\v\f]+/, '').replace(/[ \t\n\v\f]+$/, '');

/** agent.md split into its front matter (null without one) and its body, trimmed; a problem
 * is thrown as `agent.md: <field>: <what>`. */
export function readAgentMd(text) {
  const clean = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const lines = clean.split('\n');
  const first = trailingBlank(lines[0]);
  let front = null;
  let body = clean;
  if (first === '---') {
    const close = lines.findIndex((line, i) => i > 0 && ['---', '...'].includes(trailingBlank(line)));
    if (close < 0) fail("agent.md: front matter: opened with '---' on line 1 and never closed");
    front = lines.slice(1, close).map((line) => `${line}\n`).join('');
    body = lines.slice(close + 1).join('\n');
  } else if (first.replace(/^[ \t]+/, '').startsWith('---')) {
    fail("agent.md: front matter: the first line starts with '---' but is not a front matter fence (expected '---' alone, at the start of the line)");
  }
  for (const marker of [BEGIN, END]) {
    if (body.includes(marker)) fail(`agent.md: body: holds '${marker}', a marker of the identity block SMBOS writes into CLAUDE.md; remove it`);
  }
  return { front, body: trimBody(body) };
}

/** The body of agent.md: the identity. */
export function agentBody(text) {
  return readAgentMd(text).body;
}

/** CLAUDE.md with its managed identity block set to `body`; everything else kept. */
export function withIdentity(current, body) {
  const block = `${BEGIN}\n${body}${body ? '\n' : ''}${END}`;
  const begin = current.indexOf(BEGIN);
  const end = begin >= 0 ? current.indexOf(END, begin + BEGIN.length) : -1;
  if (begin >= 0 && end >= 0) {
    return current.slice(0, begin) + block + current.slice(end + END.length);
  }
  // No complete block: drop stray markers, put the block first, keep the rest.
  const rest = current.split(BEGIN).join('').split(END).join('').replace(/^\n+/, '');
  return rest ? `${block}\n\n${rest}` : `${block}\n`;
}

function readOrEmpty(file, missing) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err.code !== 'ENOENT') fail(fsProblem(err, file, 'read'));
    missing();
    return '';
  }
}

/** Writes the identity block of the memory folder's CLAUDE.md (only when it changes). */
export function writeIdentity(cfg) {
  const source = path.join(cfg.agentDir, 'agent.md');
  const text = readOrEmpty(source, () => info(`warning: ${source} not found; the identity block is left empty`));
  const body = agentBody(text);
  const target = path.join(cfg.memoryDir, 'CLAUDE.md');
  const current = readOrEmpty(target, () => {});
  const next = withIdentity(current, body);
  if (next !== current) attempt('write', target, () => writeAtomic(target, next));
  info(`identity: ${body.length} characters from agent.md in ${path.join(cfg.instanceDir, 'groups', INSTANCE.web_chat_folder, 'CLAUDE.md')}`);
}
