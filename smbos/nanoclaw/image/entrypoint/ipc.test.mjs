import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';

import { IPC } from './interface.mjs';
import { ipcJob, ipcProblems, jobFile, tasksDir, writeJobs } from './ipc.mjs';

test('a job is checked against the schema of interface.json', () => {
  assert.deepEqual(ipcJob('cancel_task', { taskId: 'smbos-a' }), { type: 'cancel_task', taskId: 'smbos-a' });
  assert.deepEqual(ipcProblems({ type: 'register_group', jid: 'tg:1', name: 'n', folder: 'telegram-1', trigger: '@A', requiresTrigger: false }), []);
  assert.deepEqual(ipcProblems({ type: 'register_group', jid: '', name: 'n', folder: 'f', trigger: 't', requiresTrigger: 'no', extra: 1 }),
    ['jid: expected a non-empty string', 'requiresTrigger: expected true or false', 'extra: not a field of register_group']);
  assert.deepEqual(ipcProblems({ type: 'schedule_task', taskId: 'smbos-a', targetJid: 'j', prompt: 'p', schedule_type: 'weekly', schedule_value: 'v', context_mode: 'group' }),
    ['schedule_type: expected one of cron, interval, once']);
  assert.deepEqual(ipcProblems({ type: 'toString' }), ['type: "toString" is not a job of interface.json']);
  assert.deepEqual(ipcProblems([]), ['not a JSON object']);
  assert.throws(() => ipcJob('pause_task', {}), { message: 'IPC job pause_task: taskId: expected a non-empty string' });
  for (const [type, schema] of Object.entries(IPC.jobs)) {
    for (const kind of Object.values(schema.fields)) assert.ok(['text', 'boolean'].includes(kind), type);
  }
});

test('jobs are written as *.json only once whole, and none unless all are valid', () => {
  const dir = tasksDir(fs.mkdtempSync(path.join(os.tmpdir(), 'ipc-')), 'main');
  assert.match(dir, /\/data\/ipc\/main\/tasks$/);
  assert.equal(jobFile('chat-telegram-1'), 'smbos-chat-telegram-1.json');
  assert.throws(() => writeJobs(dir, [['smbos-a.json', { type: 'cancel_task', taskId: 'a' }], ['smbos-b.json', { type: 'cancel_task' }]]),
    { message: 'IPC job smbos-b.json: taskId: expected a non-empty string' });
  assert.equal(fs.existsSync(dir), false);
  const writes = [];
  const write = fs.writeFileSync;
  fs.writeFileSync = (file, ...rest) => { writes.push(path.basename(file)); return write(file, ...rest); };
  try {
    writeJobs(dir, [['smbos-a.json', ipcJob('cancel_task', { taskId: 'a' })]]);
  } finally {
    fs.writeFileSync = write;
  }
  assert.deepEqual(writes, ['smbos-a.json.tmp']);
  assert.deepEqual(fs.readdirSync(dir), ['smbos-a.json']);
  assert.equal(fs.readFileSync(path.join(dir, 'smbos-a.json'), 'utf8'), '{"type":"cancel_task","taskId":"a"}\n');
});
