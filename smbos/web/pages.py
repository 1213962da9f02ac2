"""The pages: fleet, agent, settings and skill dashboards.

A page renders from the agent folders alone, so it opens while the engine or a runtime is away;
everything live (status, logs, chat, tasks, the settings' values) its script loads from the JSON
API. An unknown agent or skill is a 404 page, not a JSON answer.
"""

from __future__ import annotations

import yaml
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from smbos import operations as ops
from smbos.agent import Agent
from smbos.errors import NotFound, UnknownAgent
from smbos.web import markdown
from smbos.web.render import page
from smbos.web.state import ui_state


async def page_agent(request: Request) -> Agent | HTMLResponse:
    try:
        return await ui_state(request).agent(request.path_params["agent_id"])
    except UnknownAgent as exc:
        title = "Unknown agent" if str(exc).startswith("unknown") else "Invalid agent"
        return page(request, "error.html", status=exc.http_status, title=title, message=str(exc))


async def fleet_page(request: Request) -> Response:
    state = ui_state(request)
    fleet = await state.fleet()
    engine_problem = await state.check_engine()
    return page(
        request,
        "fleet.html",
        title="Fleet",
        fleet=fleet,
        engine_problem=engine_problem,
        problems=[str(p) for p in fleet.errors],
    )


async def agent_page(request: Request) -> Response:
    agent = await page_agent(request)
    if isinstance(agent, Response):
        return agent
    config = yaml.safe_dump(
        agent.config.model_dump(mode="json", exclude_defaults=False),
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
    return page(
        request,
        "agent.html",
        title=agent.name,
        agent=agent,
        identity=markdown.render(agent.identity),
        config_text=config,
        summary=ops.agent_summary(agent),
    )


async def settings_page(request: Request) -> Response:
    agent = await page_agent(request)
    if isinstance(agent, Response):
        return agent
    # The values (masked) and key names come from GET /api/agents/<id>/env, which needs the token:
    # the page itself holds nothing of `.env`.
    return page(request, "settings.html", title=f"{agent.name}: settings", agent=agent)


async def skill_page(request: Request) -> Response:
    agent = await page_agent(request)
    if isinstance(agent, Response):
        return agent
    try:
        skill = ops.find_skill(agent, request.path_params["skill_id"])
    except NotFound as exc:
        return page(
            request, "error.html", status=exc.http_status, title="Unknown skill", message=str(exc)
        )
    return page(
        request, "skill.html", title=f"{agent.name}: {skill.title}", agent=agent, skill=skill
    )
