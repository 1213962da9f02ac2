"""Commands that talk to an agent's runtime: chat, tasks, skill."""

from __future__ import annotations

import sys

import click

from smbos.cli.base import (
    Table,
    cell,
    cli,
    err,
    folder_agent,
    make_console,
    out,
    out_json,
    out_text,
    project_options,
)
from smbos.errors import (
    EXIT_CHECK_FAILED,
    EXIT_OK,
    NoContainer,
    Refused,
    RuntimeUnavailable,
    SmbosError,
    UnknownAgent,
)
from smbos.nanoclaw.interface import reach
from smbos.project import Project


def _running(project: Project, agent_id: str):
    """(agent, the address of its runtime) once Docker says its container runs.

    A runtime is reached only through the container Docker runs for it, where that container
    publishes it: never whatever else may listen on the agent's port. An unknown id is exit 2
    before the engine is asked; an unreachable engine exit 3; a container that does not run,
    exit 1 with the command that starts it."""
    from smbos.controller import Controller

    fleet = project.load()
    agent = fleet.get(agent_id)
    if agent is None:
        raise UnknownAgent(fleet.why_missing(agent_id))
    row = Controller(project).status([agent.id], probe=False, fleet=fleet)[0]
    if row.state != "running":
        created = row.state != "not created"
        refusal = Refused if created else NoContainer
        raise refusal(
            f"agent {agent.id} is not running (state: {row.state}); "
            f"smbos {'start' if created else 'up'} {agent.id}"
        )
    host, port = reach(row.published) if row.published else ("127.0.0.1", agent.port)
    return agent, f"http://{host}:{port}"


@cli.command()
@project_options
@click.argument("agent_id", metavar="ID")
@click.argument("message")
@click.option(
    "--timeout",
    default=600,
    show_default=True,
    type=click.IntRange(1, 86400),
    help="Seconds the whole reply may take, from sending to `done`.",
)
@click.option(
    "--idle-timeout",
    default=300,
    show_default=True,
    type=click.IntRange(1, 86400),
    help="Seconds the runtime may stay silent between two events.",
)
def chat(project: Project, agent_id: str, message: str, timeout: int, idle_timeout: int) -> None:
    """Send MESSAGE to an agent's web chat and stream the reply as it arrives.

    Exits 0 when the reply is complete, 1 when the agent is not running, the runtime reports an
    error, the stream breaks, or a time limit is reached; 3 when the Docker engine is unreachable.
    """
    from smbos import redact
    from smbos.nanoclaw.chatstream import Reply, scrubbed
    from smbos.nanoclaw.runtime import RuntimeClient, RuntimeProblem, Timeouts
    from smbos.operations import check_message

    check_message(message)  # an empty message is refused here, not by the runtime
    agent, url = _running(project, agent_id)
    reply = Reply()
    budget = Timeouts(connect=2.0, read=float(min(idle_timeout, timeout)), total=float(timeout))
    try:
        with RuntimeClient(url, chat_timeout=budget) as client, client.chat(message) as events:
            for event in scrubbed(events, redact.for_agent(agent).running()):
                _show(agent_id, event, reply.add(event))
    except RuntimeProblem as problem:
        raise RuntimeUnavailable(f"{agent_id}: {problem}", problem) from None
    sys.exit(EXIT_CHECK_FAILED if reply.errors else EXIT_OK)


def _show(agent_id: str, event, text: str | None) -> None:
    """A reply's message on stdout as it arrives, an error on stderr."""
    if text is None:
        return
    if event.type == "message":
        out_text(text)
        sys.stdout.flush()
    else:
        err(f"{agent_id}: error: {text}")


@cli.command()
@project_options
@click.argument("agent_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print tasks and run logs as JSON.")
@click.option("--runs", default=10, show_default=True, help="Recent run logs to show.")
@click.option("--pause", "pause_id", metavar="TASK", default=None, help="Pause a task.")
@click.option("--resume", "resume_id", metavar="TASK", default=None, help="Resume a paused task.")
@click.option("--cancel", "cancel_id", metavar="TASK", default=None, help="Cancel (delete) a task.")
def tasks(
    project: Project,
    agent_id: str,
    as_json: bool,
    runs: int,
    pause_id: str | None,
    resume_id: str | None,
    cancel_id: str | None,
) -> None:
    """An agent's scheduled tasks: schedule, status, next run, last run, recent run logs.

    --pause, --resume and --cancel act on one task through NanoClaw's own IPC and wait until
    the runtime shows the change. Exits 1 when the agent is not running or its runtime cannot
    run scheduled tasks; 3 when the Docker engine is unreachable.
    """
    from smbos import redact
    from smbos.nanoclaw import schedules
    from smbos.nanoclaw.runtime import RuntimeClient, RuntimeProblem

    actions = [
        (a, t) for a, t in (("pause", pause_id), ("resume", resume_id), ("cancel", cancel_id)) if t
    ]
    if len(actions) > 1:
        raise SmbosError("--pause, --resume and --cancel: give one at a time")
    agent, url = _running(project, agent_id)
    instance = project.state_dir(agent.id)
    try:
        with RuntimeClient(url) as client:
            if actions:
                action, task_id = actions[0]
                schedules.apply(instance, task_id, action, lambda: client.tasks().tasks)
                err(f"{agent_id}: task {task_id} {action}{'d' if action != 'cancel' else 'led'}")
            page = client.tasks()
    except RuntimeProblem as problem:
        raise RuntimeUnavailable(f"{agent_id}: {problem}", problem) from None
    support = schedules.support(instance)
    page = page.model_validate(
        redact.for_agent(agent).deep(page.model_dump(mode="json", by_alias=True))
    )
    if as_json:
        data = page.model_dump(mode="json", by_alias=True)
        data["schedules"] = support.to_json()
        out_json(data)
        if support.ok is False:
            sys.exit(EXIT_CHECK_FAILED)
        return
    table = Table(
        box=None, pad_edge=False, title=cell(f"{agent_id}: scheduled tasks"), title_justify="left"
    )
    for column in ("TASK", "SCHEDULE", "STATUS", "NEXT RUN", "LAST RUN", "LAST RESULT"):
        table.add_column(column, overflow="ellipsis", no_wrap=column != "LAST RESULT")
    for task in page.tasks:
        table.add_row(
            *map(
                cell,
                (
                    task.id,
                    f"{task.schedule_type} {task.schedule_value}",
                    task.status,
                    task.next_run or "-",
                    task.last_run or "-",
                    " ".join((task.last_result or "-").split())[:60],
                ),
            )
        )
    console = make_console()
    console.print(table)
    if page.run_logs and runs > 0:
        log_table = Table(box=None, pad_edge=False, title="recent runs", title_justify="left")
        for column in ("TASK", "RUN AT", "STATUS", "MS", "RESULT"):
            log_table.add_column(column, no_wrap=column != "RESULT")
        for log in sorted(page.run_logs, key=lambda r: r.run_at, reverse=True)[:runs]:
            text = log.result if log.status == "success" else log.error
            log_table.add_row(
                *map(
                    cell,
                    (
                        log.task_id,
                        log.run_at,
                        log.status,
                        log.duration_ms,
                        " ".join((text or "-").split())[:80],
                    ),
                )
            )
        console.print(log_table)
    if not page.tasks:
        err(f"{agent_id}: no scheduled tasks")
    if support.ok is False:
        err(f"{agent_id}: scheduled tasks will not run: {support.reason}")
        sys.exit(EXIT_CHECK_FAILED)


@cli.command(name="skill")
@project_options
@click.argument("agent_id", metavar="ID")
@click.argument("skill_id", metavar="[SKILL]", required=False)
@click.option(
    "--input",
    "-i",
    "inputs",
    multiple=True,
    metavar="NAME=VALUE",
    help="A value for one of the skill's inputs (repeatable).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print prompt, reply and the parsed result (list items or table) as JSON.",
)
@click.option(
    "--timeout",
    default=600,
    show_default=True,
    type=click.IntRange(1, 86400),
    help="Seconds to wait for the whole reply.",
)
def skill_(
    project: Project,
    agent_id: str,
    skill_id: str | None,
    inputs: tuple[str, ...],
    as_json: bool,
    timeout: int,
) -> None:
    """Run one of an agent's skill dashboards: its prompt, rendered from the inputs, goes to the
    agent's web chat and the reply streams back. Without SKILL, list the agent's skills."""
    from smbos import operations as ops
    from smbos import redact
    from smbos.nanoclaw.chatstream import Reply, scrubbed
    from smbos.nanoclaw.runtime import RuntimeClient, RuntimeProblem

    agent = folder_agent(project, agent_id)
    if skill_id is None:
        for skill in agent.config.skills:
            fields = (
                ", ".join(f"{i.id}{'*' if i.required else ''} ({i.type})" for i in skill.inputs)
                or "no inputs"
            )
            out(f"{skill.id}: {skill.title} [{skill.display}] -- {fields}")
        if not agent.config.skills:
            out(f"{agent.id} declares no skills")
        return
    skill = ops.find_skill(agent, skill_id)
    values = ops.parse_assignments(inputs, "--input NAME=VALUE")
    prompt = ops.skill_prompt(skill, values)
    agent, url = _running(project, agent.id)
    reply = Reply()
    if not as_json:
        err(f"{agent.id}/{skill.id}: sending: {' '.join(prompt.split())[:200]}")
    try:
        with (
            RuntimeClient(url, chat_timeout=float(timeout)) as client,
            client.chat(prompt) as events,
        ):
            for event in scrubbed(events, redact.for_agent(agent).running()):
                text = reply.add(event)
                if not as_json:
                    _show(agent.id, event, text)
    except RuntimeProblem as problem:
        raise RuntimeUnavailable(f"{agent.id}: {problem}", problem) from None
    if as_json:
        out_json(
            {
                "agent_id": agent.id,
                "skill": skill.id,
                "prompt": prompt,
                "messages": reply.messages,
                "errors": reply.errors,
                "result": ops.skill_result(skill, reply.text),
            }
        )
    sys.exit(EXIT_CHECK_FAILED if reply.errors else EXIT_OK)
