"""Commands that build and run the fleet: build, up, down, start, stop, restart."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from smbos.cli.base import (
    cell,
    cli,
    controller_for,
    err,
    make_console,
    out,
    project_options,
    status_table,
)
from smbos.errors import EXIT_CHECK_FAILED, CheckFailed, SmbosError
from smbos.project import Project


def source_options(func):
    """Where NanoClaw comes from and how it is built: shared by `build` and `up`."""

    @click.option(
        "--source",
        type=click.Path(exists=True, path_type=Path),
        help="A local NanoClaw checkout (folder) or a tarball of one.",
    )
    @click.option(
        "--git",
        "git_url",
        default=None,
        help="NanoClaw git URL [default: the SMBOS fork of NanoClaw].",
    )
    @click.option(
        "--ref",
        default=None,
        help="Branch, tag or commit of --git [default: the pinned fork commit].",
    )
    @click.option(
        "--subdir",
        default=None,
        help="The folder holding NanoClaw inside the git repository or tarball "
        "[default: nanoclaw for the fork].",
    )
    @click.option(
        "--ca-cert",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        envvar="SMBOS_CA_CERT",
        help="A PEM file of extra CAs that builds and the runtime trust (a proxy "
        "that intercepts TLS).",
    )
    @click.option(
        "--no-patches",
        is_flag=True,
        help="Build the source as it is, without SMBOS's runtime patches.",
    )
    @click.option(
        "--build-arg",
        "build_args",
        multiple=True,
        metavar="KEY=VALUE",
        help="Extra build arguments (BASE_IMAGE, BUILD_IMAGE, DOCKER_CLI_IMAGE).",
    )
    @functools.wraps(func)
    def wrapper(**kwargs):
        return func(**kwargs)

    return wrapper


@cli.command()
@project_options
@source_options
@click.option("--tag", default=None, help="Image tag [default: smbos/nanoclaw:local].")
@click.option(
    "--no-agent-image",
    is_flag=True,
    help="Do not build NanoClaw's per-turn agent image (set runtime.agent_image).",
)
@click.option("--no-cache", is_flag=True, help="Build every step again (no layer cache).")
def build(
    project: Project, tag: str | None, no_agent_image: bool, no_cache: bool, **source
) -> None:
    """Build the runtime image and the per-turn agent image (once, for the whole fleet).

    NanoClaw comes from the SMBOS fork at a pinned commit unless --git or --source says
    otherwise; SMBOS's runtime patches are applied unless --no-patches.
    """
    result = _build_image(
        project, None, tag=tag, agent_image=not no_agent_image, no_cache=no_cache, **source
    )
    out(f"built {result.tag} ({result.image_id[:19]}) from {result.source}")
    if result.agent_tag:
        out(f"built {result.agent_tag} (the per-turn agent image)")
    out(f"patches: {result.patches.label()}")
    for patch_id, why in result.patches.skipped.items():
        out(f"  skipped {patch_id}: {why}")


def _build_image(
    project: Project,
    client,
    *,
    source: Path | None,
    git_url: str | None,
    ref: str | None,
    subdir: str | None,
    ca_cert: Path | None,
    no_patches: bool,
    build_args: tuple[str, ...],
    tag: str | None = None,
    agent_image: bool = True,
    no_cache: bool = False,
):
    from smbos import integrations
    from smbos.nanoclaw import image
    from smbos.nanoclaw import source as source_mod
    from smbos.operations import parse_assignments

    if source is not None and (git_url or ref):
        raise SmbosError("--source and --git/--ref: give one source, not both")
    if source is not None:
        where = source_mod.Source.local(source, subdir)
    elif git_url or ref or subdir:
        where = source_mod.Source.git(git_url or source_mod.DEFAULT_GIT, ref, subdir)
    else:
        where = source_mod.Source.default()
    spec = image.BuildSpec(
        project_dir=project.project_dir,
        tag=tag or project.image,
        source=where,
        build_args=parse_assignments(build_args, "--build-arg KEY=VALUE"),
        ca_cert=ca_cert,
        patches=not no_patches,
        agent_image=agent_image,
        no_cache=no_cache,
        mcp_packages=integrations.image_packages(project.load().agents),
    )
    staged = image.prepare(spec, on_phase=err)
    client = client or controller_for(project).client
    console = make_console(stderr=True)
    if console.is_terminal:
        # rich reads a spinner's string as markup: it gets text (`cell`), as every line does.
        with console.status(cell(f"building {spec.tag}")) as status:

            def phase(text: str) -> None:
                console.print(cell(text, style="dim"))
                status.update(cell(text))

            return image.build(
                client, staged, on_line=lambda line: status.update(cell(line[:100])), on_phase=phase
            )
    return image.build(client, staged, on_line=lambda line: err(f"  {line}"), on_phase=err)


@cli.command()
@project_options
@click.argument("ids", nargs=-1, metavar="[ID]...")
@click.option(
    "--wait-timeout",
    default=180,
    show_default=True,
    type=click.IntRange(1, 3600),
    help="Seconds to wait for every agent to become healthy.",
)
@click.option("--no-build", is_flag=True, help="Never build the image, even when it is missing.")
@source_options
def up(project: Project, ids: tuple[str, ...], wait_timeout: int, no_build: bool, **source) -> None:
    """Validate, generate, build the image if missing, create/start agents and wait for health.

    With IDs, only those agents are created or recreated. Exits 1 when an agent does not
    become healthy, showing its last log lines.
    """
    from smbos import up as steps

    plan = steps.prepare(
        project,
        ids,
        no_build=no_build,
        say=err,
        build=lambda client: _build_image(project, client, **source),
    )
    if not plan.agents:
        out("no enabled agents")
        return
    err(f"starting {len(plan.agents)} agent(s), waiting up to {wait_timeout}s for health ...")
    console = make_console(stderr=True)
    if console.is_terminal:
        with console.status(
            cell(f"docker compose up: waiting for {len(plan.agents)} agent(s) to be healthy")
        ):
            report = steps.start(project, plan, wait_timeout)
    else:
        report = steps.start(project, plan, wait_timeout)
    make_console().print(status_table(report.rows))
    for warning in report.warnings:
        err(f"warning: {warning}")
    if report.ok:
        return
    if report.compose_error:
        err(f"docker compose: {report.compose_error}")
    for agent in report.unhealthy:
        if agent.image_missing:
            err(
                f"agent {agent.id}: image {agent.image_missing} is not on this engine and could "
                "not be pulled; pull or build it, or change runtime.image in its config.yaml"
            )
            continue
        err(f"agent {agent.id}: {agent.state}, health {agent.health}; last log lines:")
        for line in agent.log if agent.log is not None else ["(no container)"]:
            err(f"  {agent.id} | {line}")
    sys.exit(EXIT_CHECK_FAILED)


@cli.command()
@project_options
def down(project: Project) -> None:
    """Stop and remove the agents' containers. Volumes and memory files are kept."""
    result = controller_for(project).down()
    if result.returncode != 0:
        raise CheckFailed(
            f"docker compose down failed: {(result.stderr or '').strip().splitlines()[-1:]}"
        )
    out("containers removed; volumes, state/ and every memory folder are kept")


def _lifecycle(verb: str):
    @project_options
    @click.argument("ids", nargs=-1, required=True, metavar="ID...")
    def command(project: Project, ids: tuple[str, ...]) -> None:
        from smbos.controller import Controller

        # Ids first (a typo is exit 2 even with the engine down), then the engine on first use.
        controller = Controller(project)
        agents = controller.resolve(list(ids))
        for agent in agents:
            getattr(controller, verb)(agent)
            out(f"{agent.id}: {verb} done" if verb != "stop" else f"{agent.id}: stopped")

    command.__doc__ = {
        "start": "Start the existing containers of agents ID...",
        "stop": "Stop agents ID... (the containers stay, ready for `smbos start`).",
        "restart": "Restart agents ID... (e.g. after changing their .env).",
    }[verb]
    return command


for _verb in ("start", "stop", "restart"):
    cli.command(name=_verb)(_lifecycle(_verb))
