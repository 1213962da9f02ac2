"""The JSON API behind the pages (described route by route in openapi.py).

Each endpoint is a thin shell: it finds the agent, checks the query or body, and calls the
controller (through `UIState.docker`, in a worker thread), the runtime client, or
`smbos.operations` (which the CLI calls too). Failures are raised and answered in errors.py;
only what is particular to one route (a lifecycle action already running, a missing container,
an unknown task) is answered here.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from smbos import envfile, redact
from smbos import operations as ops
from smbos.agent import Agent
from smbos.controller import heal_log
from smbos.errors import Busy, EngineUnreachable, NotFound, SmbosError, from_docker
from smbos.nanoclaw import schedules
from smbos.web.body import read_json
from smbos.web.errors import ok
from smbos.web.openapi import document
from smbos.web.state import UIState, ui_state


def _number(request: Request, name: str, default: str, high: int) -> int:
    raw = request.query_params.get(name, default)
    if not raw.isdigit() or not 1 <= int(raw) <= high:
        raise SmbosError(f"{name}: expected a number from 1 to {high}")
    return int(raw)


async def api_status(request: Request) -> Response:
    state = ui_state(request)
    ids = tuple(request.query_params.getlist("agent"))
    data = await (state.compute_status(ids) if ids else state.status())
    return ok(data) if data["engine"]["ok"] else ok(data, EngineUnreachable.http_status)


async def api_agents(request: Request) -> Response:
    fleet = await ui_state(request).fleet()
    return ok(
        {
            "agents": [ops.agent_summary(a) for a in fleet.agents],
            "problems": [str(p) for p in fleet.errors],
        }
    )


async def api_agent(request: Request) -> Response:
    state = ui_state(request)
    agent = await state.agent(request.path_params["agent_id"])
    status = await state.agent_status(agent.id)
    data = ops.agent_summary(agent)
    data.update(
        {
            "identity": agent.identity,
            "front_matter": agent.front.model_dump(mode="json"),
            "config": agent.config.model_dump(mode="json"),
            "status": status["agent"],
            "engine": status["engine"],
            "runtime_url": ops.runtime_url(agent),
        }
    )
    return ok(data)


def lifecycle(verb: str):
    """The endpoint of `start`, `stop` or `restart`: one action per agent at a time."""

    async def endpoint(request: Request) -> Response:
        state = ui_state(request)
        agent = await state.agent(request.path_params["agent_id"])
        running = state.actions.get(agent.id)
        if running:
            raise Busy(f"{agent.id}: {running} already in progress")
        state.actions[agent.id] = verb
        try:
            await state.docker(lambda c: getattr(c, verb)(agent))
        except SmbosError:
            raise  # no container, the engine away: the error boundary answers
        except Exception as exc:  # noqa: BLE001 - Docker API errors, shown to the operator
            raise from_docker(exc, f"{agent.id}: {verb}") from None
        finally:
            state.actions.pop(agent.id, None)
        status = await state.agent_status(agent.id)
        return ok({"ok": True, "agent_id": agent.id, "action": verb, "status": status["agent"]})

    endpoint.__name__ = f"api_{verb}"
    return endpoint


async def api_logs(request: Request) -> Response:
    state = ui_state(request)
    agent = await state.agent(request.path_params["agent_id"])
    tail = _number(request, "tail", "200", 5000)
    lines = await state.docker(lambda c: list(c.logs(agent, tail=tail)))
    return ok({"agent_id": agent.id, "lines": lines})


def _instance_dir(state: UIState, agent: Agent) -> Path:
    return state.project.state_dir(agent.id)


async def api_tasks(request: Request) -> Response:
    state = ui_state(request)
    agent = await state.agent(request.path_params["agent_id"])
    async with state.runtime(ops.runtime_url(agent)) as client:
        page_ = await client.tasks()
    data = redact.for_agent(agent).deep(page_.model_dump(mode="json", by_alias=True))
    data["schedules"] = schedules.support(_instance_dir(state, agent)).to_json()
    return ok(data)


async def api_task_action(request: Request) -> Response:
    """Pause, resume or cancel a task through NanoClaw's IPC; answers once the runtime shows it."""
    state = ui_state(request)
    agent = await state.agent(request.path_params["agent_id"])
    action = request.path_params["action"]
    if action not in schedules.ACTIONS:
        raise NotFound(f"unknown task action {action!r}")
    task_id = request.path_params["task_id"]
    url = ops.runtime_url(agent)

    def act():
        with state.blocking_runtime(url) as client:
            task = schedules.apply(
                _instance_dir(state, agent), task_id, action, lambda: client.tasks().tasks
            )
        return None if task is None else redact.for_agent(agent).deep(task.model_dump(mode="json"))

    task = await asyncio.to_thread(act)  # NotFound, Refused: the error boundary answers
    return ok(
        {"ok": True, "agent_id": agent.id, "task_id": task_id, "action": action, "task": task}
    )


async def api_messages(request: Request) -> Response:
    state = ui_state(request)
    agent = await state.agent(request.path_params["agent_id"])
    limit = _number(request, "limit", "200", 1000)
    async with state.runtime(ops.runtime_url(agent)) as client:
        messages = await client.messages(limit)
    scrub = redact.for_agent(agent)
    return ok({"messages": [scrub.deep(m.model_dump(mode="json")) for m in messages]})


def _secret_warnings(agent: Agent) -> list[str]:
    """`KEY: why` for each secret of the agent's `.env` that redaction cannot hide (the warning
    `smbos validate` gives too); never the value."""
    try:
        values = envfile.read_env(agent.env_path)
    except (OSError, ValueError, UnicodeDecodeError):
        return []
    plain = {key for key in values if not ops.is_secret(agent, key)}
    return [f"{key}: {why}" for key, why in redact.weak_secrets(values, plain)]


async def api_env_get(request: Request) -> Response:
    state = ui_state(request)
    agent = await state.agent(request.path_params["agent_id"])
    keys = await run_in_threadpool(ops.env_keys, agent)
    return ok(
        {
            "agent_id": agent.id,
            "keys": [k.to_json() for k in keys],
            "secret_warnings": await run_in_threadpool(_secret_warnings, agent),
            "restart_needed": await state.restart_needed(agent),
        }
    )


async def api_env_put(request: Request) -> Response:
    state = ui_state(request)
    agent = await state.agent(request.path_params["agent_id"])
    body = await read_json(request)
    values = body.get("values")
    if not isinstance(values, dict):
        raise SmbosError('expected {"values": {"KEY": "value", ...}}')
    result = await run_in_threadpool(ops.update_env, agent, values)
    keys = await run_in_threadpool(ops.env_keys, agent)
    data = result.to_json()
    data.update(
        {
            "agent_id": agent.id,
            "keys": [k.to_json() for k in keys],
            "secret_warnings": await run_in_threadpool(_secret_warnings, agent),
            "restart_needed": await state.restart_needed(agent),
        }
    )
    return ok(data)


async def api_memory(request: Request) -> Response:
    agent = await ui_state(request).agent(request.path_params["agent_id"])
    listing = await run_in_threadpool(ops.list_memory, agent)
    return ok(
        {
            "agent_id": agent.id,
            "files": listing.files,
            "stopped": listing.stopped,
            "max_bytes": ops.MEMORY_MAX_BYTES,
        }
    )


async def api_memory_file(request: Request) -> Response:
    agent = await ui_state(request).agent(request.path_params["agent_id"])
    rel = request.path_params["file"]
    text = await run_in_threadpool(ops.read_memory, agent, rel)
    return ok({"agent_id": agent.id, "path": rel, "text": text})


async def api_skills(request: Request) -> Response:
    agent = await ui_state(request).agent(request.path_params["agent_id"])
    return ok(
        {"agent_id": agent.id, "skills": [s.model_dump(mode="json") for s in agent.config.skills]}
    )


async def api_heal(request: Request) -> Response:
    state = ui_state(request)
    limit = _number(request, "limit", "50", 1000)
    actions = await run_in_threadpool(heal_log, state.project, limit)
    return ok({"actions": [a.to_json() for a in reversed(actions)]})


async def api_session(request: Request) -> Response:
    """POST: the token (checked by the guard) is right; the answer sets the cookie that opens the
    pages to a remote request (security.Guard.remote). DELETE: forget it. The page's script
    calls POST before it keeps a token, so a link cannot plant a wrong one."""
    guard = ui_state(request).guard
    response = ok({"ok": True, "exposed": guard.remote(request.headers.get("host"))})
    if request.method == "DELETE":
        response.headers["Set-Cookie"] = guard.session_cookie_cleared()
    else:
        secure = request.headers.get("origin", "").startswith("https:")
        response.headers["Set-Cookie"] = guard.session_cookie(secure)
    return response


async def api_openapi(request: Request) -> Response:
    return ok(document(request.app))
