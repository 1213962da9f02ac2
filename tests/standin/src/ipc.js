// IPC task files (data/ipc/<folder>/tasks/*.json), as the SMBOS fork handles them with SMBOS's
// runtime patches: `schedule_task` honours a caller's `taskId` (the same id of the same group
// updates the task, a new context mode replaces it), `pause_task`, `resume_task`, `cancel_task`,
// and `register_group` and `unregister_group` from the main group's folder.
// Like the fork, a request it does not act on (an unknown type: there is no `update_task`; a
// missing field, an unregistered target, another folder's chat or task, an unknown task id, an
// invalid schedule) is logged and the file consumed; only a file that is not JSON goes to errors/.
import { MAIN_FOLDER, computeNextRun } from './scheduler.js';

const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function processTaskIpc(scheduler, data, folder) {
  const { store } = scheduler;
  const now = new Date();
  switch (data && data.type) {
    case 'schedule_task': {
      const missing = ['prompt', 'schedule_type', 'schedule_value', 'targetJid'].find((key) => !data[key]);
      if (missing) return scheduler.log(`ipc: schedule_task without ${missing}: ignored`);
      const group = store.groupByJid(data.targetJid);
      if (!group) return scheduler.log(`ipc: schedule_task: target ${data.targetJid} is not registered`);
      if (!scheduler.allowed(folder, group.folder)) {
        return scheduler.log(`ipc: schedule_task from ${folder} for ${group.folder} blocked`);
      }
      let nextRun;
      try {
        nextRun = computeNextRun(data.schedule_type, data.schedule_value, now);
      } catch (err) {
        return scheduler.log(`ipc: schedule_task: ${err.message}`);
      }
      const id = typeof data.taskId === 'string' && TASK_ID.test(data.taskId)
        ? data.taskId : `task-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
      const contextMode = data.context_mode === 'group' ? 'group' : 'isolated';
      const existing = store.task(id);
      if (existing && existing.group_folder !== group.folder) {
        scheduler.log(`ipc: schedule_task ${id}: the id belongs to another group`);
        return;
      }
      if (existing && existing.context_mode === contextMode) {
        store.updateTask(id, { prompt: String(data.prompt), schedule_type: data.schedule_type,
          schedule_value: String(data.schedule_value), next_run: nextRun });
        scheduler.log(`ipc: task ${id} updated (${data.schedule_type} ${data.schedule_value}), next run ${nextRun}`);
        return;
      }
      if (existing) store.deleteTask(id);
      store.createTask({
        id,
        group_folder: group.folder,
        chat_jid: data.targetJid,
        prompt: String(data.prompt),
        schedule_type: data.schedule_type,
        schedule_value: String(data.schedule_value),
        next_run: nextRun,
        last_run: null,
        last_result: null,
        status: 'active',
        created_at: now.toISOString(),
        context_mode: contextMode,
      });
      scheduler.log(`ipc: task ${id} scheduled (${data.schedule_type} ${data.schedule_value}), next run ${nextRun}`);
      return;
    }
    case 'pause_task':
    case 'resume_task':
    case 'cancel_task': {
      if (!data.taskId) return scheduler.log(`ipc: ${data.type} without taskId: ignored`);
      const task = store.task(data.taskId);
      if (!task || !scheduler.allowed(folder, task.group_folder)) {
        return scheduler.log(`ipc: ${data.type} ${data.taskId} from ${folder}: no such task of that folder`);
      }
      if (data.type === 'pause_task') store.updateTask(task.id, { status: 'paused' });
      if (data.type === 'resume_task') store.updateTask(task.id, { status: 'active' });
      if (data.type === 'cancel_task') store.deleteTask(task.id);
      scheduler.log(`ipc: ${data.type} ${task.id}`);
      return;
    }
    case 'register_group': {
      // As NanoClaw: only the main group's folder may register a chat; an upsert by jid.
      if (folder !== MAIN_FOLDER) {
        scheduler.log(`ipc: register_group from ${folder} blocked (only the main folder may)`);
        return;
      }
      const missing = ['jid', 'name', 'folder', 'trigger'].find((key) => !data[key]);
      if (missing) return scheduler.log(`ipc: register_group without ${missing}: ignored`);
      scheduler.store.registerGroup({ jid: String(data.jid), name: String(data.name),
        folder: String(data.folder), trigger_pattern: String(data.trigger),
        requires_trigger: data.requiresTrigger !== false });
      scheduler.log(`ipc: group ${data.jid} registered (folder ${data.folder})`);
      return;
    }
    case 'unregister_group': {
      // As NanoClaw with the unregister-group patch: main folder only, never the main group;
      // the group leaves the store, its folder stays.
      if (folder !== MAIN_FOLDER) {
        scheduler.log(`ipc: unregister_group from ${folder} blocked (only the main folder may)`);
        return;
      }
      const group = data.jid ? store.groupByJid(String(data.jid)) : null;
      if (!group || group.folder === MAIN_FOLDER) {
        scheduler.log(`ipc: unregister_group ${data.jid}: not a registered group, or the main group`);
        return;
      }
      store.unregisterGroup(group.jid);
      scheduler.log(`ipc: group ${group.jid} unregistered`);
      return;
    }
    default:
      scheduler.log(`ipc: unknown IPC task type ${JSON.stringify(data && data.type)}`);
  }
}
