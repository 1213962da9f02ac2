// The stand-in's persistent state: one JSON document at `store/messages.db`
// (NanoClaw keeps SQLite there; the path is what matters to SMBOS, not the format).
// Every change rewrites the file atomically (temporary file, then rename).
import fs from 'node:fs';
import path from 'node:path';

export const STORE_DIR = 'store';
export const DB_FILE = path.join(STORE_DIR, 'messages.db');

function emptyState() {
  return {
    format: 'smbos-nanoclaw-standin/1',
    messages: [],
    tasks: [],
    runLogs: [],
    nextRunLogId: 1,
    sessions: {},
    groups: [],
  };
}

export class Store {
  constructor(cwd) {
    this.file = path.join(cwd, DB_FILE);
    this.dir = path.join(cwd, STORE_DIR);
    this.state = emptyState();
    this.lastMs = 0;
  }

  /** Loads the file if present; throws with a readable message when it is not ours. */
  open() {
    fs.mkdirSync(this.dir, { recursive: true });
    let text;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
      this.save();
      return;
    }
    let data;
    try {
      data = JSON.parse(text);
    } catch {
      throw new Error(`${DB_FILE} is not a stand-in store (not JSON)`);
    }
    this.state = { ...emptyState(), ...data };
  }

  exists() {
    return fs.existsSync(this.file);
  }

  save() {
    const tmp = `${this.file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify(this.state));
    fs.renameSync(tmp, this.file);
  }

  // --- groups -------------------------------------------------------------

  registerGroup(group) {
    const existing = this.state.groups.find((g) => g.jid === group.jid);
    if (existing) {
      Object.assign(existing, { name: group.name, folder: group.folder, trigger_pattern: group.trigger_pattern });
    } else {
      this.state.groups.push({ ...group, added_at: new Date().toISOString() });
    }
    this.save();
  }

  unregisterGroup(jid) {
    this.state.groups = this.state.groups.filter((g) => g.jid !== jid);
    this.save();
  }

  groupByJid(jid) {
    return this.state.groups.find((g) => g.jid === jid) || null;
  }

  // --- messages -----------------------------------------------------------

  /** Stores a message with NanoClaw's id (`web-<ms>` for the user's, `bot-<ms>` for a reply),
   * kept unique here (NanoClaw would replace a row whose id clashes). */
  addMessage(message) {
    this.lastMs = Math.max((this.lastMs || 0) + 1, Date.now());
    const row = {
      id: `${message.is_bot_message ? 'bot' : 'web'}-${this.lastMs}`,
      ...message,
      timestamp: new Date().toISOString(),
    };
    this.state.messages.push(row);
    this.save();
    return row;
  }

  /** The newest `limit` messages of one chat, oldest first. */
  messages(chatJid, limit) {
    const rows = this.state.messages.filter((m) => m.chat_jid === chatJid);
    return limit <= 0 ? [] : rows.slice(Math.max(0, rows.length - limit));
  }

  // --- sessions -----------------------------------------------------------

  ensureSession(folder) {
    if (!this.state.sessions[folder]) {
      this.state.sessions[folder] = `session-${Date.now()}`;
      this.save();
    }
    return this.state.sessions[folder];
  }

  // --- tasks --------------------------------------------------------------

  task(id) {
    return this.state.tasks.find((t) => t.id === id) || null;
  }

  createTask(task) {
    if (this.task(task.id)) throw new Error(`task ${task.id} already exists`);
    this.state.tasks.push(task);
    this.save();
  }

  updateTask(id, changes) {
    const task = this.task(id);
    if (!task) throw new Error(`task ${id} not found`);
    Object.assign(task, changes);
    this.save();
    return task;
  }

  deleteTask(id) {
    this.state.tasks = this.state.tasks.filter((t) => t.id !== id);
    this.state.runLogs = this.state.runLogs.filter((r) => r.task_id !== id);
    this.save();
  }

  addRunLog(log) {
    const row = { id: this.state.nextRunLogId, ...log };
    this.state.nextRunLogId += 1;
    this.state.runLogs.push(row);
    this.save();
    return row;
  }

  /** All tasks, newest first (as NanoClaw's getAllTasks orders them). */
  tasks() {
    return [...this.state.tasks].sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
  }

  /** The last 100 run logs, newest first. */
  runLogs() {
    return this.state.runLogs.slice(-100).reverse();
  }
}
