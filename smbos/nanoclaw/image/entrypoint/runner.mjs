// Step 4: NanoClaw's per-turn sources (the agent runner, the container skills) copied into the
// instance directory at every start: NanoClaw mounts them from its working directory into each
// per-turn container.
import fs from 'node:fs';
import path from 'node:path';

import { copyTree } from './files.mjs';
import { attempt } from './log.mjs';

export const RUNTIME_TREES = Object.freeze([['container', 'agent-runner', 'src'], ['container', 'skills']]);

/** Replaces each tree of RUNTIME_TREES in the instance directory with NanoClaw's own; returns
 * the trees copied (a tree NanoClaw lacks is skipped). */
export function copyAgentRunner(cfg) {
  const copied = [];
  for (const parts of RUNTIME_TREES) {
    const source = path.join(cfg.nanoclawDir, ...parts);
    if (!fs.existsSync(source)) continue;
    const target = path.join(cfg.instanceDir, ...parts);
    attempt('replace', target, () => {
      fs.rmSync(target, { recursive: true, force: true });
      copyTree(source, target);
    });
    copied.push(parts.join('/'));
  }
  return copied;
}
