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
import fs from 'node:fs';
import path from 'node:path';

export const TOKEN_KEY = 'TELEGRAM_BOT_TOKEN';
export const STATE_FILE = path.join('data', 'smbos-telegram.json'); // written by the runtime patch
export const FACTS_FILE = '.smbos-telegram.json'; // written here, read by `smbos status`
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

/** Links each chat's group folder to the memory folder and queues its registration. */
export function prepareChats(cfg, ensureSymlink) {
  const telegram = cfg.telegram;
  fs.rmSync(path.join(cfg.instanceDir, STATE_FILE), { force: true });
  const chats = telegram.enabled === false ? [] : telegram.chats;
  for (const chat of chats) ensureSymlink(path.join(cfg.instanceDir, 'groups', chat.folder), cfg.memoryDir);
  const dir = path.join(cfg.instanceDir, 'data', 'ipc', 'main', 'tasks');
  const jobs = registrationJobs(chats);
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
      if (!report.missing.length) break;
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
  info(`telegram: ${telegram.enabled ? 'on' : `off (channels.telegram: false; ${TOKEN_KEY} withheld)`}; `
    + `${report.registered.length} of ${report.declared.length} declared chat(s) registered`);
  if (report.missing.length) {
    info(`warning: telegram: not registered by the runtime: ${report.missing.join(', ')} (does its IPC watcher run?)`);
  }
  if (telegram.enabled && report.undeclared.length) {
    info(`warning: telegram: the runtime still serves chats no longer declared in config.yaml: ${report.undeclared.join(', ')} (NanoClaw cannot unregister a chat; its store keeps them)`);
  }
}
