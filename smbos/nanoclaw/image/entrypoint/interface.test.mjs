import assert from 'node:assert/strict';
import test from 'node:test';

import { ENV, IDENTITY, INSTANCE, IPC, LABELS, NAMES } from './interface.mjs';

test('the shared names are read from interface.json and cannot be changed', () => {
  assert.equal(LABELS.turn, 'io.smbos.turn');
  assert.equal(ENV.schedules, 'SMBOS_SCHEDULES');
  assert.equal(INSTANCE.runtime_facts, '.smbos-runtime.json');
  assert.match(IDENTITY.begin, /^<!-- smbos:identity:begin -->$/);
  assert.ok(IPC.jobs.schedule_task.fields.taskId);
  assert.throws(() => { NAMES.labels.turn = 'x'; }, TypeError);
  assert.throws(() => { IPC.jobs.cancel_task.fields.extra = 'text'; }, TypeError);
});

test('every key is a valid environment variable name, every label an io.smbos. label', () => {
  for (const [name, key] of Object.entries(ENV)) assert.match(key, /^[A-Z][A-Z0-9_]*$/, name);
  for (const [name, label] of Object.entries(LABELS)) assert.match(label, /^io\.smbos\.[a-z-]+$/, name);
});
