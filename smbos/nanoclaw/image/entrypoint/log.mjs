// How the entrypoint speaks: one line a message on stdout, and a setup failure as one line that
// says what and why (main.mjs prints it on stderr and exits 1). No secret value is ever printed.
import fs from 'node:fs';

export const NAME = 'smbos-entrypoint';

/** A failure of the container's setup: its message is the one line the operator sees. */
export class SetupError extends Error {}

export function info(message) {
  process.stdout.write(`${NAME}: ${message}\n`);
}

export function fail(message) {
  throw new SetupError(message);
}

function whoami() {
  const uid = typeof process.getuid === 'function' ? process.getuid() : '?';
  const gid = typeof process.getgid === 'function' ? process.getgid() : '?';
  return `uid ${uid} gid ${gid}`;
}

/** The owner and mode of `file`, or why they cannot be read. */
export function describe(file) {
  try {
    const st = fs.statSync(file);
    return `owner uid ${st.uid} gid ${st.gid}, mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}`;
  } catch (err) {
    return err.code === 'ENOENT' ? 'does not exist' : err.code || err.message;
  }
}

/** Who the entrypoint runs as and what `file` is: why it cannot be used. */
export function accessProblem(file) {
  return `running as ${whoami()}; ${describe(file)}`;
}

/** A readable reason for a file-system error on `file`. */
export function fsProblem(err, file, verb) {
  if (err.code === 'EACCES' || err.code === 'EPERM') {
    return `cannot ${verb} ${file}: permission denied (${accessProblem(file)})`;
  }
  if (err.code === 'EROFS') return `cannot ${verb} ${file}: read-only file system`;
  return `cannot ${verb} ${file}: ${err.code || err.message}`;
}

/** `fn()`, a file-system error of it turned into a SetupError naming `verb` and `file`. */
export function attempt(verb, file, fn) {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SetupError) throw err;
    return fail(fsProblem(err, file, verb));
  }
}
