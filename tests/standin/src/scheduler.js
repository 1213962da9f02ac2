// The IPC watcher (data/ipc/<folder>/tasks/*.json, polled every second) and the
// scheduler loop that runs due tasks, as NanoClaw's host process does.
import fs from 'node:fs';
import path from 'node:path';

import { nextCronRun, parseCron } from './cron.js';
import { runTurn } from './agent.js';
import { processTaskIpc } from './ipc.js';

const IPC_DIR = path.join('data', 'ipc');
export const MAIN_FOLDER = 'main';

/** next_run (ISO string or null) for a schedule; throws a readable Error when invalid. */
export function computeNextRun(type, value, now = new Date()) {
  if (type === 'cron') {
    parseCron(value);
    const next = nextCronRun(value, now);
    if (!next) throw new Error(`cron expression "${value}" never matches`);
    return next.toISOString();
  }
  if (type === 'interval') {
    const ms = /^\s*\d+\s*$/.test(String(value)) ? parseInt(value, 10) : NaN;
    if (!(ms > 0)) throw new Error(`interval "${value}" is not a positive millisecond count`);
    return new Date(now.getTime() + ms).toISOString();
  }
  if (type === 'once') {
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) throw new Error(`once timestamp "${value}" is not a date`);
    return date.toISOString();
  }
  throw new Error(`unknown schedule_type "${type}"`);
}

export class Scheduler {
  constructor({ store, config, log }) {
    this.store = store;
    this.config = config;
    this.log = log;
    this.timers = [];
    this.running = new Set();
    this.stopped = false;
  }

  /** NanoClaw's IPC watcher: task and message files, polled every second. */
  startIpcWatcher() {
    const ipcLoop = () => {
      if (this.stopped) return;
      try {
        this.processIpc();
      } catch (err) {
        this.log(`ipc: ${err.message}`);
      }
      this.timers.push(setTimeout(ipcLoop, this.config.ipcPollMs));
    };
    ipcLoop();
  }

  /** NanoClaw's scheduler loop: runs due tasks every STANDIN_SCHEDULER_POLL_MS. */
  startSchedulerLoop() {
    const schedulerLoop = async () => {
      if (this.stopped) return;
      try {
        await this.runDueTasks();
      } catch (err) {
        this.log(`scheduler: ${err.message}`);
      }
      if (!this.stopped) this.timers.push(setTimeout(schedulerLoop, this.config.schedulerPollMs));
    };
    schedulerLoop();
  }

  stop() {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
  }

  // --- IPC ----------------------------------------------------------------

  processIpc() {
    const base = path.join(process.cwd(), IPC_DIR);
    fs.mkdirSync(base, { recursive: true });
    const folders = fs.readdirSync(base, { withFileTypes: true })
      .filter((d) => d.isDirectory() && d.name !== 'errors')
      .map((d) => d.name)
      .sort();
    for (const folder of folders) {
      this.processFolder(base, folder, 'messages', (data) => this.ipcMessage(data, folder));
      this.processFolder(base, folder, 'tasks', (data) => this.ipcTask(data, folder));
    }
  }

  processFolder(base, folder, kind, handle) {
    const dir = path.join(base, folder, kind);
    let files;
    try {
      files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
    } catch {
      return;
    }
    for (const file of files) {
      const full = path.join(dir, file);
      try {
        handle(JSON.parse(fs.readFileSync(full, 'utf8')));
        fs.unlinkSync(full);
      } catch (err) {
        this.log(`ipc: ${folder}/${kind}/${file} failed: ${err.message}`);
        const errors = path.join(base, 'errors');
        fs.mkdirSync(errors, { recursive: true });
        try {
          fs.renameSync(full, path.join(errors, `${folder}-${file}`));
        } catch (moveErr) {
          this.log(`ipc: cannot move ${file} to errors: ${moveErr.message}`);
        }
      }
    }
  }

  /** A group folder may act on its own chat only, except the main group's folder (`main`,
   * trusted by its name as NanoClaw does). */
  allowed(folder, targetFolder) {
    return folder === MAIN_FOLDER || folder === targetFolder;
  }

  // NanoClaw hands an IPC message to the channel that owns its chat (from the chat's own folder,
  // or from main) and stores nothing; the web chat has no channel (its replies go out on the
  // chat stream), so here every message is logged and dropped.
  ipcMessage(data, folder) {
    if (!data || data.type !== 'message' || !data.chatJid || !data.text) return;
    const group = this.store.groupByJid(data.chatJid);
    const allowed = folder === MAIN_FOLDER || (group && group.folder === folder);
    this.log(`ipc: message for ${data.chatJid} from ${folder}: ${allowed ? 'no channel owns it, dropped' : 'blocked'}`);
  }

  ipcTask(data, folder) {
    processTaskIpc(this, data, folder);
  }

  // --- scheduler loop -------------------------------------------------------

  async runDueTasks() {
    const now = new Date().toISOString();
    const due = this.store.tasks()
      .filter((t) => t.status === 'active' && t.next_run && t.next_run <= now && !this.running.has(t.id))
      .sort((a, b) => (a.next_run < b.next_run ? -1 : 1));
    for (const task of due) {
      if (this.stopped) return;
      this.running.add(task.id);
      try {
        await this.runTask(task);
      } finally {
        this.running.delete(task.id);
      }
    }
  }

  async runTask(task) {
    const started = Date.now();
    const result = await runTurn(this.config, task.group_folder, task.prompt, [['task', task.id]]);
    const finished = new Date();
    // The task may have been cancelled while it ran.
    if (!this.store.task(task.id)) return;
    // As NanoClaw: `run_at` is when the run ended; `last_result` at most 200 characters.
    this.store.addRunLog({
      task_id: task.id,
      run_at: finished.toISOString(),
      duration_ms: finished.getTime() - started,
      status: result.ok ? 'success' : 'error',
      result: result.ok ? result.text : null,
      error: result.ok ? null : result.error,
    });
    let nextRun = null;
    if (task.schedule_type !== 'once') {
      try {
        nextRun = computeNextRun(task.schedule_type, task.schedule_value, finished);
      } catch {
        nextRun = null;
      }
    }
    const changes = {
      last_run: finished.toISOString(),
      last_result: result.ok ? (result.text ? result.text.slice(0, 200) : 'Completed') : `Error: ${result.error}`,
      next_run: nextRun,
    };
    if (task.schedule_type === 'once') changes.status = 'completed';
    this.store.updateTask(task.id, changes);
    this.log(`scheduler: task ${task.id} ran (${result.ok ? 'success' : 'error'}), next run ${nextRun}`);
  }
}
