import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';

import { copyTree, writeAtomic, writeJsonAtomic } from './files.mjs';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'files-'));

test('a file is written through a .smbos-tmp. file beside it, with its mode', () => {
  const dir = tmp();
  const file = path.join(dir, 'secret.json');
  fs.writeFileSync(file, 'old');
  const renames = [];
  const rename = fs.renameSync;
  fs.renameSync = (a, b) => { renames.push([path.basename(a), path.basename(b)]); rename(a, b); };
  try {
    writeAtomic(file, 'new', 0o600);
  } finally {
    fs.renameSync = rename;
  }
  assert.deepEqual(renames, [['.smbos-tmp.secret.json', 'secret.json']]);
  assert.equal(fs.readFileSync(file, 'utf8'), 'new');
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(fs.readdirSync(dir), ['secret.json']);
  writeJsonAtomic(file, { a: [1] });
  assert.equal(fs.readFileSync(file, 'utf8'), '{\n  "a": [\n    1\n  ]\n}\n');
  assert.equal(fs.statSync(file).mode & 0o777, 0o644);
});

test('a tree is copied with its folders, files and links', () => {
  const from = tmp();
  fs.mkdirSync(path.join(from, 'a', 'b'), { recursive: true });
  fs.writeFileSync(path.join(from, 'a', 'b', 'f.txt'), 'x');
  fs.symlinkSync('b/f.txt', path.join(from, 'a', 'link'));
  const to = path.join(tmp(), 'copy');
  copyTree(from, to);
  assert.equal(fs.readFileSync(path.join(to, 'a', 'b', 'f.txt'), 'utf8'), 'x');
  assert.equal(fs.readlinkSync(path.join(to, 'a', 'link')), 'b/f.txt');
});
