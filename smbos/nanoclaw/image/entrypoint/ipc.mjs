// NanoClaw's IPC as the entrypoint writes it: one job a file in data/ipc/<group folder>/tasks/,
// each job checked against the one schema in interface.json (`ipc`), which SMBOS's own writer
// (smbos/nanoclaw/ipc.py, for `smbos tasks`) checks too.
import fs from 'node:fs';
import path from 'node:path';

import { IPC } from './interface.mjs';

const KINDS = {
  text: (v) => typeof v === 'string' && v.length > 0,
  boolean: (v) => typeof v === 'boolean',
};

/** What is wrong with `job` by the schema: [] when nothing is. */
export function ipcProblems(job) {
  if (!job || typeof job !== 'object' || Array.isArray(job)) return ['not a JSON object'];
  const schema = Object.hasOwn(IPC.jobs, job.type) ? IPC.jobs[job.type] : null;
  if (!schema) return [`type: ${JSON.stringify(job.type)} is not a job of interface.json`];
  const problems = [];
  for (const [field, kind] of Object.entries(schema.fields)) {
    if (!KINDS[kind](job[field])) problems.push(`${field}: expected ${kind === 'text' ? 'a non-empty string' : 'true or false'}`);
    else if (schema.values?.[field] && !schema.values[field].includes(job[field])) {
      problems.push(`${field}: expected one of ${schema.values[field].join(', ')}`);
    }
  }
  for (const field of Object.keys(job)) {
    if (field !== 'type' && !Object.hasOwn(schema.fields, field)) problems.push(`${field}: not a field of ${job.type}`);
  }
  return problems;
}

/** The job `{type, ...fields}`; throws when the schema does not allow it (a bug, not input). */
export function ipcJob(type, fields) {
  const job = { type, ...fields };
  const problems = ipcProblems(job);
  if (problems.length) throw new Error(`IPC job ${type}: ${problems.join('; ')}`);
  return job;
}

/** The tasks folder of `folder`'s IPC in the instance directory. */
export function tasksDir(instanceDir, folder) {
  return path.join(instanceDir, ...IPC.root.split('/'), folder, IPC.tasks);
}

/** The name of an SMBOS job file: smbos-<name>.json. */
export function jobFile(name) {
  return `${IPC.file_prefix}${name}${IPC.file_suffix}`;
}

/** Writes each [file name, job] into `dir` (none unless all match the schema). A job is written as `<name>.tmp`, then renamed: the
 * watcher reads *.json only, so it never sees half a file. */
export function writeJobs(dir, jobs) {
  for (const [name, job] of jobs) {
    const problems = ipcProblems(job);
    if (problems.length) throw new Error(`IPC job ${name}: ${problems.join('; ')}`);
  }
  if (!jobs.length) return;
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, job] of jobs) {
    const file = path.join(dir, name);
    fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(job)}\n`);
    fs.renameSync(`${file}.tmp`, file);
  }
}
