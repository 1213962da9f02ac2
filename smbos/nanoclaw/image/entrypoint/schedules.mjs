// Step 6: the agent's schedules (SMBOS_SCHEDULES) reconciled with NanoClaw's tasks once it
// answers (ADR 007): read what it reports (GET /api/tasks), then ask it through its own IPC
// (data/ipc/web-chat/tasks/*.json) to create or update each declared schedule (`schedule_task`
// with the stable id smbos-<id>) and to cancel the smbos-* tasks no longer declared. Tasks the
// agent created itself (any other id) are never touched; SMBOS never writes the runtime's
// database.
//
// <instance>/.smbos-runtime.json: what this runtime can do, for `smbos tasks`, `doctor` and the
// UI on the host (they cannot look inside the image; smbos/nanoclaw/schedules.py reads it). Rewritten at
// every start.
import fs from 'node:fs';
import path from 'node:path';

import { getJson as realGetJson, sleep as realSleep } from './api.mjs';
import { writeJsonAtomic } from './files.mjs';
import { ENV, INSTANCE, IPC } from './interface.mjs';
import { ipcJob, jobFile, tasksDir, writeJobs } from './ipc.mjs';
import { fail, info } from './log.mjs';

const TASK_PREFIX = 'smbos-';

/** SMBOS_SCHEDULES: [{id, prompt, schedule_type, schedule_value, context_mode}], checked. */
export function parseSchedules(text) {
  if (!text || !text.trim()) return [];
  let list;
  try {
    list = JSON.parse(text);
  } catch (err) {
    fail(`${ENV.schedules} is not valid JSON: ${err.message}`);
  }
  if (!Array.isArray(list)) fail(`${ENV.schedules} must be a JSON list`);
  return list.map((item, i) => {
    const where = `${ENV.schedules}[${i}]`;
    if (!item || typeof item !== 'object') fail(`${where} must be an object`);
    for (const key of ['id', 'prompt', 'schedule_type', 'schedule_value']) {
      if (typeof item[key] !== 'string' || !item[key]) fail(`${where}.${key} must be a non-empty string`);
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(item.id)) {
      fail(`${where}.id "${item.id}" may hold only letters, digits, ".", "_" and "-"`);
    }
    const types = IPC.jobs.schedule_task.values.schedule_type;
    if (!types.includes(item.schedule_type)) {
      fail(`${where}.schedule_type must be ${types.slice(0, -1).join(', ')} or ${types.at(-1)}, got "${item.schedule_type}"`);
    }
    return item;
  });
}

// What the built NanoClaw can do with schedules, read from its code (by content, like the
// runtime patches): a scheduler loop that runs due tasks, an IPC watcher that reads task files,
// and a `schedule_task` that honours a caller's taskId (so seeding is idempotent).
export function scheduleSupport(nanoclawDir) {
  const read = (file) => {
    try {
      return fs.readFileSync(path.join(nanoclawDir, 'dist', file), 'utf8');
    } catch {
      return '';
    }
  };
  const index = read('index.js');
  const ipc = read('ipc.js');
  return {
    scheduler: index.includes('startSchedulerLoop('),
    watcher: index.includes('startIpcWatcher('),
    taskIds: ipc.includes('data.taskId'),
  };
}

/** The IPC jobs that make the runtime's `smbos-*` tasks of the web chat match `schedules`. */
export function scheduleJobs(schedules, tasks) {
  const mine = new Map(tasks.filter((t) => String(t.id).startsWith(TASK_PREFIX) && t.group_folder === INSTANCE.web_chat_folder)
    .map((t) => [String(t.id), t]));
  const jobs = [];
  const counts = { created: 0, updated: 0, cancelled: 0, unchanged: 0 };
  for (const s of schedules) {
    const taskId = `${TASK_PREFIX}${s.id}`;
    const context = s.context_mode === 'isolated' ? 'isolated' : 'group';
    const current = mine.get(taskId);
    mine.delete(taskId);
    if (current && current.prompt === s.prompt && current.schedule_type === s.schedule_type
        && String(current.schedule_value) === s.schedule_value && current.context_mode === context) {
      counts.unchanged += 1;
      continue;
    }
    counts[current ? 'updated' : 'created'] += 1;
    jobs.push(ipcJob('schedule_task', { taskId, targetJid: INSTANCE.web_chat_jid, prompt: s.prompt,
      schedule_type: s.schedule_type, schedule_value: s.schedule_value, context_mode: context }));
  }
  for (const taskId of mine.keys()) {
    counts.cancelled += 1;
    jobs.push(ipcJob('cancel_task', { taskId }));
  }
  return { jobs, counts };
}

/** The file names of `jobs`, in order: smbos-<ms>-<index>-<type>.json. */
export function scheduleFiles(jobs, now = Date.now()) {
  return jobs.map((job, i) => [jobFile(`${now}-${String(i).padStart(3, '0')}-${job.type}`), job]);
}

function writeRuntimeFacts(cfg, facts) {
  const file = path.join(cfg.instanceDir, INSTANCE.runtime_facts);
  try {
    writeJsonAtomic(file, { ...facts, written_at: new Date().toISOString() });
  } catch (err) {
    info(`warning: cannot write ${file}: ${err.code || err.message}`);
  }
}

/** Reconciles once NanoClaw answers (`getJson`, `sleep`: how it is asked and waited for). */
export async function reconcileSchedules(cfg, { getJson = realGetJson, sleep = realSleep } = {}) {
  const support = scheduleSupport(cfg.nanoclawDir);
  const facts = { schedules: support, declared: cfg.schedules.length, reconciled: null };
  writeRuntimeFacts(cfg, facts);
  if (!support.scheduler || !support.watcher || !support.taskIds) {
    const missing = [!support.scheduler && 'no scheduler loop', !support.watcher && 'no IPC watcher',
      !support.taskIds && 'schedule_task ignores taskId'].filter(Boolean).join(', ');
    if (cfg.schedules.length) {
      info(`warning: schedules: this NanoClaw cannot run SMBOS's schedules (${missing}); ${cfg.schedules.length} declared schedule(s) left unscheduled (build it with \`smbos build\`, which patches this)`);
    }
    return;
  }
  let reply = null;
  for (let i = 0; i < 240; i += 1) {
    reply = await getJson(cfg.httpPort, '/api/tasks');
    if (reply.status === 200 && reply.data && Array.isArray(reply.data.tasks)) break;
    if (reply.status === 404) {
      info('warning: schedules: this NanoClaw has no /api/tasks; schedules not reconciled');
      return;
    }
    await sleep(500);
  }
  if (!reply || reply.status !== 200) {
    info('warning: schedules: NanoClaw did not answer /api/tasks within 120 s; schedules not reconciled');
    return;
  }
  const { jobs, counts } = scheduleJobs(cfg.schedules, reply.data.tasks);
  writeJobs(tasksDir(cfg.instanceDir, INSTANCE.web_chat_folder), scheduleFiles(jobs));
  writeRuntimeFacts(cfg, { ...facts, reconciled: counts });
  info(`schedules: ${counts.created} created, ${counts.updated} updated, ${counts.cancelled} cancelled, ${counts.unchanged} unchanged (through NanoClaw's IPC)`);
}
