"""NanoClaw's IPC files, as SMBOS writes them: one schema for every writer.

NanoClaw's watcher reads one JSON object a file from `data/ipc/<group folder>/tasks/` of the
instance directory. Two programs write such files: SMBOS on the host (`smbos tasks`, the UI:
`schedules.queue`) and the image's entrypoint (schedule reconciliation, Telegram chat registration:
smbos/nanoclaw/image/entrypoint/ipc.mjs). Both build each job against the one schema in
smbos/nanoclaw/image/interface.json (`ipc`), so a job's shape is changed in one place, and
tests/test_image_node.py checks the files both writers leave.
"""

from __future__ import annotations

import json
from typing import Any

from smbos.nanoclaw.interface import NAMES

SCHEMA: dict[str, Any] = NAMES["ipc"]
JOBS: dict[str, dict[str, Any]] = SCHEMA["jobs"]
MAIN_FOLDER: str = SCHEMA["main_folder"]


def _kind_ok(kind: str, value: object) -> bool:
    if kind == "text":
        return isinstance(value, str) and value != ""
    return isinstance(value, bool)


def problems(job: object) -> list[str]:
    """What is wrong with `job` by the schema: [] when nothing is (the entrypoint's
    `ipcProblems`, the same rules)."""
    if not isinstance(job, dict):
        return ["not a JSON object"]
    kind = job.get("type")
    schema = JOBS.get(kind) if isinstance(kind, str) else None
    if schema is None:
        return [f"type: {json.dumps(kind)} is not a job of interface.json"]
    found = []
    for field, wanted in schema["fields"].items():
        value = job.get(field)
        if not _kind_ok(wanted, value):
            found.append(
                f"{field}: expected {'a non-empty string' if wanted == 'text' else 'true or false'}"
            )
        elif field in schema.get("values", {}) and value not in schema["values"][field]:
            found.append(f"{field}: expected one of {', '.join(schema['values'][field])}")
    found += [
        f"{field}: not a field of {kind}"
        for field in job
        if field != "type" and field not in schema["fields"]
    ]
    return found


def job(kind: str, **fields: object) -> dict[str, object]:
    """The job `{"type": kind, **fields}`; ValueError when the schema does not allow it (a bug
    in the caller, never the operator's input)."""
    data: dict[str, object] = {"type": kind, **fields}
    wrong = problems(data)
    if wrong:
        raise ValueError(f"IPC job {kind}: {'; '.join(wrong)}")
    return data


def tasks_parts(folder: str) -> list[str]:
    """The path of `folder`'s tasks folder from the instance directory, part by part."""
    return [*SCHEMA["root"].split("/"), folder, SCHEMA["tasks"]]


def job_file(name: str) -> str:
    """The name of an SMBOS job file: smbos-<name>.json."""
    return f"{SCHEMA['file_prefix']}{name}{SCHEMA['file_suffix']}"
