// The stand-in's web API, named as NanoClaw names its routes in src/http-server.ts: the file
// `smbos build` reads to recognise a source that serves the API SMBOS drives (smbos/nanoclaw/source.py,
// `inspect`), so `smbos build --source tests/standin` builds the stand-in as it builds NanoClaw.
// The routes are served by src/index.js (`routeOf`); this file is never run (the stand-in's
// build copies it to dist/ with the rest of src/). tests/test_build.py holds the two to the same
// routes.
export const ROUTES: ReadonlyArray<[method: string, path: string]> = [
  ['GET', '/api/health'],
  ['GET', '/api/state'],
  ['GET', '/api/tasks'],
  ['GET', '/api/messages'],
  ['POST', '/api/chat'],
];
