"""NanoClaw, the runtime SMBOS runs agents on: everything that knows it, in one folder
(docs/decisions/020-nanoclaw-in-one-folder.md).

The rest of SMBOS uses it through the modules named in `PUBLIC`, and only their public names:
`from smbos.nanoclaw import runtime`, `from smbos.nanoclaw.runtime import RuntimeClient`. A
module or name starting with `_` is this folder's own (tests/test_imports.py holds both rules).

- `source`: where NanoClaw comes from (the pinned fork, a git URL, a folder or a tarball) and its
  copy staged for a build.
- `patches` (and the `patches/` folder): the runtime patches applied to that copy.
- `image` (and the `image/` folder: the Dockerfile, the entrypoint and healthcheck, the
  `container` CLI, `interface.json`): the runtime image and the per-turn agent image, built.
- `interface`: the container interface, the names `image/interface.json` gives the labels, the
  environment keys, the mounts, ports and instance files, shared with the image's entrypoint.
- `contract`: the runtime's HTTP API as SMBOS uses it (docs/runtime-api.md): routes, budgets,
  the problems a call can end in.
- `runtime`: the HTTP clients of that API (blocking and asyncio).
- `chatstream`: the chat event stream, parsed.
- `probe`: the health probe of `smbos status`, on the standard library alone.
- `ipc` and `schedules`: NanoClaw's IPC files, and the task actions written as them.

`_shapes` (the runtime's answers, checked) is read by the clients and the probe only.

Nothing is imported here: a module loads only what it needs itself, so `smbos status`, which
needs `interface` and `probe`, loads no HTTP library or Docker SDK (ADR 013).
"""

PUBLIC = (
    "chatstream",
    "contract",
    "image",
    "interface",
    "ipc",
    "patches",
    "probe",
    "runtime",
    "schedules",
    "source",
)
