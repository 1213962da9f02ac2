// The names the image shares with SMBOS, read from ../interface.json (smbos/nanoclaw/interface.py reads
// the same file): labels, environment keys, paths, the identity markers, NanoClaw's IPC jobs.
import fs from 'node:fs';

const deepFreeze = (value) => {
  if (value && typeof value === 'object') {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
};

export const NAMES = deepFreeze(JSON.parse(fs.readFileSync(new URL('../interface.json', import.meta.url), 'utf8')));
export const { labels: LABELS, env: ENV, container: CONTAINER, instance: INSTANCE, identity: IDENTITY, ipc: IPC } = NAMES;
