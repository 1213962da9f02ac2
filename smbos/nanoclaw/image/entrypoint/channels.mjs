// Step 3c: Telegram (docs/container-interface.md, step 3c).
//
//   SMBOS_TELEGRAM        on | off: channels.telegram, the one switch. Off: TELEGRAM_BOT_TOKEN is
//                         withheld from the runtime (from its .env copy and its environment),
//                         whatever the agent's .env holds (NanoClaw reads it there itself).
//   SMBOS_TELEGRAM_CHATS  JSON list of the chats the agent serves:
//                         [{"jid":"tg:<id>","name","folder","trigger","requires_trigger"}]
//
// Each chat is registered through NanoClaw's own IPC `register_group`, written before NanoClaw
// starts into the main group's IPC folder (data/ipc/main/tasks/, the only folder NanoClaw lets
// register groups), once per chat under a stable name, so a restart rewrites rather than adds.
// Each chat's group folder is a link to the agent's memory folder: every chat is the same agent,
// with the same memory and MCP servers as its web chat.
//
// A chat SMBOS registered and the config no longer declares is unregistered the same way
// (`unregister_group`, the runtime patch unregister-group): SMBOS keeps the chats it registered
// in MANAGED_FILE, and only those, never a chat the agent registered itself, are taken away.
import fs from 'node:fs';
import path from 'node:path';

import { getJson as realGetJson, sleep as realSleep } from './api.mjs';
import { withoutKey } from './env.mjs';
import { writeAtomic, writeJsonAtomic } from './files.mjs';
import { ENV, INSTANCE, IPC } from './interface.mjs';
import { ipcJob, jobFile, tasksDir, writeJobs } from './ipc.mjs';
import { fail, info as realInfo } from './log.mjs';

export const TOKEN_KEY = 'TELEGRAM_BOT_TOKEN';
export const STATE_FILE = INSTANCE.telegram_state; // written by the runtime patch
export const FACTS_FILE = INSTANCE.telegram_facts; // written here, read by `smbos status`
export const MANAGED_FILE = INSTANCE.telegram_managed; // the chats SMBOS registered
const CHAT_JID = /^tg:-?[0-9]{1,20}$/;
const FOLDER = /^telegram-n?[0-9]{1,20}$/;

/** {enabled: true|false|null (not said: left as the .env has it), chats: [...]} */
export function parseTelegram(env) {
  const switchText = env[ENV.telegram];
  if (switchText !== undefined && !['on', 'off'].includes(switchText)) {
    fail(`${ENV.telegram} must be on or off, got "${switchText}"`);
  }
  let chats = [];
  const chatsText = env[ENV.telegram_chats];
  if (chatsText && chatsText.trim()) {
    try {
      chats = JSON.parse(chatsText);
    } catch (err) {
      fail(`${ENV.telegram_chats} is not valid JSON: ${err.message}`);
    }
    if (!Array.isArray(chats)) fail(`${ENV.telegram_chats} must be a JSON list`);
    chats.forEach((chat, i) => {
      const where = `${ENV.telegram_chats}[${i}]`;
      if (!chat || typeof chat !== 'object') fail(`${where} must be an object`);
      if (!CHAT_JID.test(String(chat.jid))) fail(`${where}.jid must be tg:<number>, got "${chat.jid}"`);
      if (!FOLDER.test(String(chat.folder))) fail(`${where}.folder must be telegram-<number>, got "${chat.folder}"`);
      for (const key of ['name', 'trigger']) {
        if (typeof chat[key] !== 'string' || !chat[key]) fail(`${where}.${key} must be a non-empty string`);
      }
      if (typeof chat.requires_trigger !== 'boolean') fail(`${where}.requires_trigger must be true or false`);
    });
  }
  return { enabled: switchText === undefined ? null : switchText === 'on', chats };
}

/** The .env text without the lines that set TELEGRAM_BOT_TOKEN (the rest byte for byte). */
export function withoutToken(text) {
  return withoutKey(text, TOKEN_KEY);
}

/** The keys of .env the runtime must not get: the token while Telegram is off. */
export function withheldKeys(telegram) {
  return telegram.enabled === false ? [TOKEN_KEY] : [];
}

/** The register_group jobs of the declared chats, by file name. */
export function registrationJobs(chats) {
  return chats.map((chat) => [jobFile(`chat-${chat.folder}`), ipcJob('register_group', {
    jid: chat.jid,
    name: chat.name,
    folder: chat.folder,
    trigger: chat.trigger,
    requiresTrigger: chat.requires_trigger,
  })]);
}

/** The unregister_group jobs of chats SMBOS registered and no longer declares, by file name. */
export function unregistrationJobs(jids) {
  return jids.map((jid) => [unregistrationFile(jid), ipcJob('unregister_group', { jid })]);
}

function unregistrationFile(jid) {
  return jobFile(`unchat-${String(jid).replace(/[^A-Za-z0-9-]/g, '_')}`);
}

function readManaged(file) {
  try {
    const data = JSON.parse(fs.readFileSync(file, 'utf8'));
    return Array.isArray(data.chats) ? data.chats.filter((j) => CHAT_JID.test(String(j))) : [];
  } catch {
    return []; // none yet, or unreadable: nothing is taken away
  }
}

function writeManaged(file, jids) {
  writeAtomic(file, `${JSON.stringify({ chats: [...new Set(jids)].sort() })}\n`);
}

/** Links each chat's group folder to the memory folder, queues its registration, and queues
 * the unregistration of the chats SMBOS registered before that are no longer declared. */
export function prepareChats(cfg, ensureSymlink) {
  const telegram = cfg.telegram;
  fs.rmSync(path.join(cfg.instanceDir, STATE_FILE), { force: true });
  const chats = telegram.enabled === false ? [] : telegram.chats;
  for (const chat of chats) ensureSymlink(path.join(cfg.instanceDir, 'groups', chat.folder), cfg.memoryDir);
  const dir = tasksDir(cfg.instanceDir, IPC.main_folder);
  const declared = telegram.chats.map((c) => c.jid);
  const managedFile = path.join(cfg.instanceDir, MANAGED_FILE);
  // Not said (a Compose file from before the switch): nothing is taken away.
  telegram.gone = telegram.enabled === null ? []
    : readManaged(managedFile).filter((j) => !declared.includes(j));
  // An unregistration still queued from an earlier start must not undo a chat declared again.
  for (const jid of declared) fs.rmSync(path.join(dir, unregistrationFile(jid)), { force: true });
  const jobs = [...registrationJobs(chats), ...unregistrationJobs(telegram.gone)];
  if (telegram.enabled !== null) writeManaged(managedFile, [...declared, ...telegram.gone]);
  writeJobs(dir, jobs);
  return chats.length;
}

/** Compares what the runtime reports (GET /api/state groups) with the declared chats. */
export function chatReport(chats, groups) {
  const registered = new Set((groups || []).map((g) => String(g.jid)).filter((j) => j.startsWith('tg:')));
  const declared = chats.map((c) => c.jid);
  return {
    declared,
    registered: declared.filter((j) => registered.has(j)),
    missing: declared.filter((j) => !registered.has(j)),
    undeclared: [...registered].filter((j) => !declared.includes(j)).sort(),
  };
}

/** Once NanoClaw answers: which chats it serves, written to FACTS_FILE and logged (`getJson`,
 * `sleep`, `info`: how it is asked, waited for and told). */
export async function checkChats(cfg, { getJson = realGetJson, sleep = realSleep, info = realInfo } = {}) {
  const telegram = cfg.telegram;
  const facts = { enabled: telegram.enabled, chats: null, checked_at: null };
  const file = path.join(cfg.instanceDir, FACTS_FILE);
  const write = () => writeJsonAtomic(file, facts);
  write();
  if (telegram.enabled === null) return;
  const chats = telegram.enabled ? telegram.chats : [];
  let report = null;
  for (let i = 0; i < 120; i += 1) {
    const reply = await getJson(cfg.httpPort, '/api/state');
    if (reply.status === 200 && reply.data && Array.isArray(reply.data.groups)) {
      report = chatReport(chats, reply.data.groups);
      const pending = (telegram.gone || []).filter((j) => report.undeclared.includes(j));
      if (!report.missing.length && !pending.length) break;
    } else if (reply.status === 404) {
      break;
    }
    await sleep(500);
  }
  facts.chats = report;
  facts.checked_at = new Date().toISOString();
  write();
  if (!report) {
    info('warning: telegram: the runtime did not report its chats (no /api/state)');
    return;
  }
  // Chats taken away are forgotten once the runtime no longer serves them (a runtime without
  // the unregister-group patch keeps them: they are tried again at the next start).
  const gone = telegram.gone || [];
  const kept = gone.filter((j) => report.undeclared.includes(j));
  writeManaged(path.join(cfg.instanceDir, MANAGED_FILE), [...telegram.chats.map((c) => c.jid), ...kept]);
  if (gone.length > kept.length) {
    info(`telegram: unregistered chat(s) no longer declared: ${gone.filter((j) => !kept.includes(j)).join(', ')}`);
  }
  info(`telegram: ${telegram.enabled ? 'on' : `off (channels.telegram: false; ${TOKEN_KEY} withheld)`}; `
    + `${report.registered.length} of ${report.declared.length} declared chat(s) registered`);
  if (report.missing.length) {
    info(`warning: telegram: not registered by the runtime: ${report.missing.join(', ')} (does its IPC watcher run?)`);
  }
  if (telegram.enabled && report.undeclared.length) {
    info(`warning: telegram: the runtime still serves chats not declared in config.yaml: ${report.undeclared.join(', ')} (registered by the agent itself, or a runtime without the unregister-group patch)`);
  }
}
