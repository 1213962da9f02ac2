// SMBOS agent container entrypoint (docs/container-interface.md, "What the image does at start"):
// the program the image runs, `node /opt/smbos/entrypoint.mjs`. Its steps are entrypoint/*.mjs,
// in the order main.mjs gives them.
import { run } from './entrypoint/main.mjs';

run();
