import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';

import { SetupError, attempt, describe, fail, fsProblem, info } from './log.mjs';

test('a message is one line on stdout, named', (t) => {
  const write = t.mock.method(process.stdout, 'write', () => true);
  info('identity: 3 characters');
  assert.deepEqual(write.mock.calls.map((c) => c.arguments[0]), ['smbos-entrypoint: identity: 3 characters\n']);
});

test('fail throws a SetupError with the message as it is', () => {
  assert.throws(() => fail('SMBOS_X is not set'), (err) => err instanceof SetupError && err.message === 'SMBOS_X is not set');
});

test('a file-system error says what, where and why, permission errors with who and what', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'log-'));
  fs.chmodSync(dir, 0o750);
  const denied = fsProblem(Object.assign(new Error('x'), { code: 'EACCES' }), dir, 'read');
  assert.match(denied, new RegExp(`^cannot read ${dir}: permission denied \\(running as uid \\d+ gid \\d+; owner uid \\d+ gid \\d+, mode 0750\\)$`));
  assert.equal(fsProblem({ code: 'EROFS' }, '/x', 'write'), 'cannot write /x: read-only file system');
  assert.equal(fsProblem({ code: 'ENOSPC' }, '/x', 'write'), 'cannot write /x: ENOSPC');
  assert.equal(describe(path.join(dir, 'missing')), 'does not exist');
});

test('attempt turns a file-system error into a SetupError and lets a SetupError through', () => {
  assert.equal(attempt('read', '/x', () => 5), 5);
  assert.throws(() => attempt('read', '/nowhere/file', () => fs.readFileSync('/nowhere/file')),
    (err) => err instanceof SetupError && err.message === 'cannot read /nowhere/file: ENOENT');
  assert.throws(() => attempt('read', '/x', () => fail('own words')), { message: 'own words' });
});
