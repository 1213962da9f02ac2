// Telegram for the entrypoint (docs/container-interface.md, "Telegram"). Node standard library.
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

export const TOKEN_KEY = 'TELEGRAM_BOT_TOKEN';
export const STATE_FILE = path.join('data', 'smbos-telegram.json'); // written by the runtime patch
export const FACTS_FILE = '.smbos-telegram.json'; // written here, read by `smbos status`
export const MANAGED_FILE = '.smbos-telegram-chats.json'; // the chats SMBOS registered
const CHAT_JID = /^tg:-?[0-9]{1,20}$/;
const FOLDER = /^telegram-n?[0-9]{1,20}$/;

/** {enabled: true|false|null (not said: left as the .env has it), chats: [...]} */
export function parseTelegram(env, fail) {
  const switchText = env.SMBOS_TELEGRAM;
  if (switchText !== undefined && !['on', 'off'].includes(switchText)) {
    fail(`SMBOS_TELEGRAM must be on or off, got "${switchText}"`);
  }
  let chats = [];
  if (env.SMBOS_TELEGRAM_CHATS && env.SMBOS_TELEGRAM_CHATS.trim()) {
    try {
      chats = JSON.parse(env.SMBOS_TELEGRAM_CHATS);
    } catch (err) {
      fail(`SMBOS_TELEGRAM_CHATS is not valid JSON: ${err.message}`);
    }
    if (!Array.isArray(chats)) fail('SMBOS_TELEGRAM_CHATS must be a JSON list');
    chats.forEach((chat, i) => {
      const where = `SMBOS_TELEGRAM_CHATS[${i}]`;
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

/** The .env text without its TELEGRAM_BOT_TOKEN lines (the rest byte for byte). */
export function withoutToken(text) {
  return text.split('\n').filter((line) => {
    const bare = line.trim().replace(/^export\s+/, '');
    return !(bare.startsWith(`${TOKEN_KEY}=`) || bare.startsWith(`${TOKEN_KEY} =`));
  }).join('\n');
}

/** The register_group jobs of the declared chats, by file name. */
export function registrationJobs(chats) {
  return chats.map((chat) => [`smbos-chat-${chat.folder}.json`, {
    type: 'register_group',
    jid: chat.jid,
    name: chat.name,
    folder: chat.folder,
    trigger: chat.trigger,
    requiresTrigger: chat.requires_trigger,
  }]);
}

/** The unregister_group jobs of chats SMBOS registered and no longer declares, by file name. */
export function unregistrationJobs(jids) {
  return jids.map((jid) => [unregistrationFile(jid), { type: 'unregister_group', jid }]);
}

function unregistrationFile(jid) {
  return `smbos-unchat-${String(jid).replace(/[^A-Za-z0-9-]/g, '_')}.json`;
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
  fs.writeFileSync(`${file}.tmp`, `${JSON.stringify({ chats: [...new Set(jids)].sort() })}\n`);
  fs.renameSync(`${file}.tmp`, file);
}

/** Links each chat's group folder to the memory folder, queues its registration, and queues
 * the unregistration of the chats SMBOS registered before that are no longer declared. */
export function prepareChats(cfg, ensureSymlink) {
  const telegram = cfg.telegram;
  fs.rmSync(path.join(cfg.instanceDir, STATE_FILE), { force: true });
  const chats = telegram.enabled === false ? [] : telegram.chats;
  for (const chat of chats) ensureSymlink(path.join(cfg.instanceDir, 'groups', chat.folder), cfg.memoryDir);
  const dir = path.join(cfg.instanceDir, 'data', 'ipc', 'main', 'tasks');
  const declared = telegram.chats.map((c) => c.jid);
  const managedFile = path.join(cfg.instanceDir, MANAGED_FILE);
  // Not said (a Compose file from before the switch): nothing is taken away.
  telegram.gone = telegram.enabled === null ? []
    : readManaged(managedFile).filter((j) => !declared.includes(j));
  // An unregistration still queued from an earlier start must not undo a chat declared again.
  for (const jid of declared) fs.rmSync(path.join(dir, unregistrationFile(jid)), { force: true });
  const jobs = [...registrationJobs(chats), ...unregistrationJobs(telegram.gone)];
  if (telegram.enabled !== null) writeManaged(managedFile, [...declared, ...telegram.gone]);
  if (jobs.length) fs.mkdirSync(dir, { recursive: true });
  for (const [name, job] of jobs) {
    const file = path.join(dir, name);
    fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(job)}\n`);
    fs.renameSync(`${file}.tmp`, file);
  }
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

/** Once NanoClaw answers: which chats it serves, written to FACTS_FILE and logged. */
export async function checkChats(cfg, getJson, sleep, info) {
  const telegram = cfg.telegram;
  const facts = { enabled: telegram.enabled, chats: null, checked_at: null };
  const file = path.join(cfg.instanceDir, FACTS_FILE);
  const write = () => {
    fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(facts, null, 2)}\n`);
    fs.renameSync(`${file}.tmp`, file);
  };
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
