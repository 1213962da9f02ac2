import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';

import { ipcProblems } from './ipc.mjs';
import { parseSchedules, reconcileSchedules, scheduleFiles, scheduleJobs, scheduleSupport } from './schedules.mjs';

const task = (id, { prompt = 'p', kind = 'cron', value = '0 9 * * *', context = 'group', folder = 'web-chat' } = {}) => (
  { id, prompt, schedule_type: kind, schedule_value: value, context_mode: context, group_folder: folder, status: 'active' });
const SCHEDULE = { id: 'daily', prompt: 'p', schedule_type: 'cron', schedule_value: '0 9 * * *', context_mode: 'group' };

test("reconciling creates, updates and cancels SMBOS's tasks and leaves the agent's own", () => {
  const { jobs, counts } = scheduleJobs(
    [SCHEDULE, { ...SCHEDULE, id: 'new' }, { ...SCHEDULE, id: 'edited', prompt: 'new text' }],
    [task('smbos-daily'), task('smbos-edited', { prompt: 'old text' }), task('smbos-removed'), task('task-123-own'),
      task('smbos-other-group', { folder: 'main' })]);
  assert.deepEqual(counts, { created: 1, updated: 1, cancelled: 1, unchanged: 1 });
  assert.deepEqual(jobs.map((j) => [j.type, j.taskId]),
    [['schedule_task', 'smbos-new'], ['schedule_task', 'smbos-edited'], ['cancel_task', 'smbos-removed']]);
  assert.deepEqual(jobs[0], { type: 'schedule_task', taskId: 'smbos-new', targetJid: 'web-chat@smbos', prompt: 'p',
    schedule_type: 'cron', schedule_value: '0 9 * * *', context_mode: 'group' });
  for (const job of jobs) assert.deepEqual(ipcProblems(job), []);
});

test('an unchanged fleet writes nothing; a number value and a missing context compare as NanoClaw keeps them', () => {
  assert.deepEqual(scheduleJobs([SCHEDULE], [task('smbos-daily')]),
    { jobs: [], counts: { created: 0, updated: 0, cancelled: 0, unchanged: 1 } });
  const every = { id: 'tick', prompt: 'p', schedule_type: 'interval', schedule_value: '60000' };
  assert.equal(scheduleJobs([every], [task('smbos-tick', { kind: 'interval', value: 60000 })]).counts.unchanged, 1);
  assert.equal(scheduleJobs([{ ...every, context_mode: 'isolated' }], [task('smbos-tick', { kind: 'interval', value: 60000 })]).counts.updated, 1);
});

test('the job files are named in order, smbos-<ms>-<index>-<type>.json', () => {
  const { jobs } = scheduleJobs([SCHEDULE], [task('smbos-gone')]);
  assert.deepEqual(scheduleFiles(jobs, 1700000000000).map(([name]) => name),
    ['smbos-1700000000000-000-schedule_task.json', 'smbos-1700000000000-001-cancel_task.json']);
});

test('SMBOS_SCHEDULES is checked before anything is written', () => {
  assert.deepEqual(parseSchedules(undefined), []);
  assert.deepEqual(parseSchedules('  '), []);
  assert.deepEqual(parseSchedules(JSON.stringify([SCHEDULE])), [SCHEDULE]);
  const bad = [
    ['[', /^SMBOS_SCHEDULES is not valid JSON: /],
    ['{}', /^SMBOS_SCHEDULES must be a JSON list$/],
    ['[3]', /^SMBOS_SCHEDULES\[0\] must be an object$/],
    [JSON.stringify([{ ...SCHEDULE, prompt: '' }]), /^SMBOS_SCHEDULES\[0\]\.prompt must be a non-empty string$/],
    [JSON.stringify([{ ...SCHEDULE, id: '../x' }]), /^SMBOS_SCHEDULES\[0\]\.id "\.\.\/x" may hold only letters, digits, "\.", "_" and "-"$/],
    [JSON.stringify([{ ...SCHEDULE, schedule_type: 'weekly' }]), /^SMBOS_SCHEDULES\[0\]\.schedule_type must be cron, interval or once, got "weekly"$/],
  ];
  for (const [text, message] of bad) assert.throws(() => parseSchedules(text), { message }, text);
});

function nanoclaw(index, ipc) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nanoclaw-'));
  fs.mkdirSync(path.join(dir, 'dist'));
  if (index !== null) fs.writeFileSync(path.join(dir, 'dist', 'index.js'), index);
  if (ipc !== null) fs.writeFileSync(path.join(dir, 'dist', 'ipc.js'), ipc);
  return dir;
}

test("schedule support is read from NanoClaw's built code", () => {
  assert.deepEqual(scheduleSupport(nanoclaw('startIpcWatcher({});\n', "const id = 'task-' + Date.now();\n")),
    { scheduler: false, watcher: true, taskIds: false });
  assert.deepEqual(scheduleSupport(nanoclaw('startSchedulerLoop({}); startIpcWatcher({});\n', 'const taskId = data.taskId;\n')),
    { scheduler: true, watcher: true, taskIds: true });
  assert.deepEqual(scheduleSupport(nanoclaw(null, null)), { scheduler: false, watcher: false, taskIds: false });
});

function reconcileCfg(code) {
  const instanceDir = fs.mkdtempSync(path.join(os.tmpdir(), 'state-'));
  return { instanceDir, nanoclawDir: nanoclaw(code, 'data.taskId'), httpPort: 1, schedules: [SCHEDULE] };
}

const facts = (cfg) => JSON.parse(fs.readFileSync(path.join(cfg.instanceDir, '.smbos-runtime.json'), 'utf8'));

test('once NanoClaw answers, the jobs are queued in the web chat\'s IPC and the facts recorded', async (t) => {
  const cfg = reconcileCfg('startSchedulerLoop( startIpcWatcher(');
  const lines = [];
  t.mock.method(process.stdout, 'write', (text) => { lines.push(text); return true; });
  const answers = [{ status: 0, data: null }, { status: 503, data: null }, { status: 200, data: { tasks: [task('smbos-old')] } }];
  const asked = [];
  await reconcileSchedules(cfg, { getJson: async (port, route) => { asked.push([port, route]); return answers.shift(); }, sleep: async () => {} });
  assert.deepEqual(asked, [[1, '/api/tasks'], [1, '/api/tasks'], [1, '/api/tasks']]);
  const dir = path.join(cfg.instanceDir, 'data', 'ipc', 'web-chat', 'tasks');
  const files = fs.readdirSync(dir).sort();
  assert.equal(files.length, 2);
  assert.match(files[0], /^smbos-\d+-000-schedule_task\.json$/);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, files[1]), 'utf8')), { type: 'cancel_task', taskId: 'smbos-old' });
  const written = facts(cfg);
  assert.deepEqual({ ...written, written_at: 'T' }, { schedules: { scheduler: true, watcher: true, taskIds: true }, declared: 1,
    reconciled: { created: 1, updated: 0, cancelled: 1, unchanged: 0 }, written_at: 'T' });
  assert.match(written.written_at, /^\d{4}-\d\d-\d\dT/);
  assert.deepEqual(lines, ["smbos-entrypoint: schedules: 1 created, 0 updated, 1 cancelled, 0 unchanged (through NanoClaw's IPC)\n"]);
});

test('a NanoClaw that cannot run schedules, has no /api/tasks or never answers is said once', async (t) => {
  const lines = [];
  t.mock.method(process.stdout, 'write', (text) => { lines.push(text); return true; });
  const never = async () => { throw new Error('not asked'); };
  const old = reconcileCfg('startIpcWatcher(');
  await reconcileSchedules(old, { getJson: never });
  assert.deepEqual(facts(old).reconciled, null);
  assert.match(lines.pop(), /warning: schedules: this NanoClaw cannot run SMBOS's schedules \(no scheduler loop\); 1 declared schedule\(s\) left unscheduled/);
  await reconcileSchedules(reconcileCfg('startSchedulerLoop( startIpcWatcher('), { getJson: async () => ({ status: 404, data: null }) });
  assert.equal(lines.pop(), 'smbos-entrypoint: warning: schedules: this NanoClaw has no /api/tasks; schedules not reconciled\n');
  let waits = 0;
  await reconcileSchedules(reconcileCfg('startSchedulerLoop( startIpcWatcher('),
    { getJson: async () => ({ status: 0, data: null }), sleep: async (ms) => { waits += ms; } });
  assert.equal(waits, 120000);
  assert.equal(lines.pop(), 'smbos-entrypoint: warning: schedules: NanoClaw did not answer /api/tasks within 120 s; schedules not reconciled\n');
});
