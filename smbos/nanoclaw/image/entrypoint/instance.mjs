// Step 1: the instance directory (NanoClaw's working directory): `store` links to the store
// volume, `groups/web-chat` to the agent's memory folder; `groups/`, `groups/global/` and `data/`
// exist. Nothing is created outside the three mounted directories.
import fs from 'node:fs';
import path from 'node:path';

import { INSTANCE } from './interface.mjs';
import { accessProblem, attempt, fail, fsProblem } from './log.mjs';

/** Fails unless `dir` is a directory this process can write. */
export function requireWritableDir(dir, what) {
  let st;
  try {
    st = fs.statSync(dir);
  } catch (err) {
    if (err.code === 'ENOENT') fail(`${what} ${dir} does not exist (is it mounted?)`);
    fail(fsProblem(err, dir, 'use'));
  }
  if (!st.isDirectory()) fail(`${what} ${dir} is not a directory`);
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  } catch {
    fail(`${what} ${dir} is not writable (${accessProblem(dir)})`);
  }
}

/** Makes `link` a symlink to `target`; replaces a wrong link or an empty directory. */
export function ensureSymlink(link, target) {
  let st = null;
  try {
    st = fs.lstatSync(link);
  } catch (err) {
    if (err.code !== 'ENOENT') fail(fsProblem(err, link, 'inspect'));
  }
  if (st && st.isSymbolicLink()) {
    if (fs.readlinkSync(link) === target) return;
    attempt('replace', link, () => fs.unlinkSync(link));
  } else if (st && st.isDirectory()) {
    if (fs.readdirSync(link).length > 0) {
      fail(`${link} is a directory with files; it must be a link to ${target}: move its contents there and remove it`);
    }
    attempt('replace', link, () => fs.rmdirSync(link));
  } else if (st) {
    fail(`${link} is a file; it must be a link to ${target}: remove it`);
  }
  attempt('create', link, () => fs.symlinkSync(target, link));
}

export function prepareInstance(cfg) {
  requireWritableDir(cfg.instanceDir, 'instance directory');
  requireWritableDir(cfg.memoryDir, 'memory folder');
  requireWritableDir(cfg.storeDir, 'store directory');
  ensureSymlink(path.join(cfg.instanceDir, 'store'), cfg.storeDir);
  // groups/global: the memory NanoClaw shares across an agent's groups (read when present).
  for (const dir of ['groups', path.join('groups', 'global'), 'data']) {
    const full = path.join(cfg.instanceDir, dir);
    attempt('create', full, () => fs.mkdirSync(full, { recursive: true }));
  }
  ensureSymlink(path.join(cfg.instanceDir, 'groups', INSTANCE.web_chat_folder), cfg.memoryDir);
}
