// Writing and copying in the instance directory, so that NanoClaw (and SMBOS on the host) never
// reads half a file.
import fs from 'node:fs';
import path from 'node:path';

import { INSTANCE } from './interface.mjs';

/** Writes `file` through a temporary file beside it, then renames it into place. The temporary
 * name starts with `.smbos-tmp.`: never listed or shown by `smbos memory` and the UI, and
 * git-ignored. */
export function writeAtomic(file, content, mode = 0o644) {
  const tmp = path.join(path.dirname(file), `${INSTANCE.temp_prefix}${path.basename(file)}`);
  fs.writeFileSync(tmp, content, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

/** `data` as indented JSON with a final newline, written atomically. */
export function writeJsonAtomic(file, data, mode = 0o644) {
  writeAtomic(file, `${JSON.stringify(data, null, 2)}\n`, mode);
}

/** Copies the tree `from` to `to`: folders, files and symbolic links (as links). */
export function copyTree(from, to) {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const a = path.join(from, entry.name);
    const b = path.join(to, entry.name);
    if (entry.isDirectory()) copyTree(a, b);
    else if (entry.isFile()) fs.copyFileSync(a, b);
    else if (entry.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(a), b);
  }
}
