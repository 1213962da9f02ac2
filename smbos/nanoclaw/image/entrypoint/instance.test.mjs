import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';

import { ensureSymlink, prepareInstance, requireWritableDir } from './instance.mjs';

function dirs() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'instance-'));
  const cfg = { instanceDir: path.join(root, 'state'), memoryDir: path.join(root, 'memory'), storeDir: path.join(root, 'store') };
  for (const dir of Object.values(cfg)) fs.mkdirSync(dir);
  return cfg;
}

test('the instance directory gets its links and folders, twice the same', () => {
  const cfg = dirs();
  prepareInstance(cfg);
  prepareInstance(cfg);
  assert.equal(fs.readlinkSync(path.join(cfg.instanceDir, 'store')), cfg.storeDir);
  assert.equal(fs.readlinkSync(path.join(cfg.instanceDir, 'groups', 'web-chat')), cfg.memoryDir);
  assert.ok(fs.statSync(path.join(cfg.instanceDir, 'groups', 'global')).isDirectory());
  assert.ok(fs.statSync(path.join(cfg.instanceDir, 'data')).isDirectory());
});

test('a missing, unwritable or wrong directory is one line naming it', (t) => {
  const cfg = dirs();
  assert.throws(() => requireWritableDir(path.join(cfg.instanceDir, 'nope'), 'store directory'),
    { message: `store directory ${path.join(cfg.instanceDir, 'nope')} does not exist (is it mounted?)` });
  const file = path.join(cfg.instanceDir, 'f');
  fs.writeFileSync(file, '');
  assert.throws(() => requireWritableDir(file, 'memory folder'), { message: `memory folder ${file} is not a directory` });
  fs.chmodSync(cfg.memoryDir, 0o555);
  // As root every folder is writable: access is refused as it is to uid 1000.
  const access = fs.accessSync;
  t.mock.method(fs, 'accessSync', (dir, mode) => {
    if (dir === cfg.memoryDir) throw Object.assign(new Error('denied'), { code: 'EACCES' });
    return access(dir, mode);
  });
  assert.throws(() => prepareInstance(cfg), { message: new RegExp(`^memory folder ${cfg.memoryDir} is not writable \\(running as uid \\d+ gid \\d+; owner uid \\d+ gid \\d+, mode 0555\\)$`) });
});

test('a wrong link or an empty folder is replaced; a folder with files or a file is not', () => {
  const cfg = dirs();
  const link = path.join(cfg.instanceDir, 'store');
  fs.symlinkSync('/elsewhere', link);
  ensureSymlink(link, cfg.storeDir);
  assert.equal(fs.readlinkSync(link), cfg.storeDir);
  const empty = path.join(cfg.instanceDir, 'empty');
  fs.mkdirSync(empty);
  ensureSymlink(empty, cfg.storeDir);
  assert.equal(fs.readlinkSync(empty), cfg.storeDir);
  const full = path.join(cfg.instanceDir, 'full');
  fs.mkdirSync(full);
  fs.writeFileSync(path.join(full, 'kept.md'), 'x');
  assert.throws(() => ensureSymlink(full, cfg.storeDir), /is a directory with files; it must be a link to .*: move its contents there and remove it$/);
  const file = path.join(cfg.instanceDir, 'file');
  fs.writeFileSync(file, 'x');
  assert.throws(() => ensureSymlink(file, cfg.storeDir), { message: `${file} is a file; it must be a link to ${cfg.storeDir}: remove it` });
});
