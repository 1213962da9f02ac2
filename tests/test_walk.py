"""Folders the runtime writes are walked within limits (smbos/walk.py): one agent's strange memory
folder (a thousand nested folders, names past the path limit, link loops) degrades that agent
alone, with one line saying why, in every command and in the UI; nothing escapes as exit 70/500.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path

import pytest

from smbos import operations as ops
from smbos import walk
from smbos.errors import Forbidden
from smbos.project import Project
from smbos.web.app import create_app

from .conftest import run_smbos, write_agent
from .dockerfleet import free_port
from .fakefleet import FakeDocker
from .test_web_api import AUTH, TOKEN, make_client

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock", "SMBOS_PROJECT": "walks"}


def nest(folder: Path, depth: int, name: str = "d") -> None:
    """`depth` folders inside each other under `folder`, made relative to each other's handle
    (so a path past PATH_MAX can be made at all)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        with open(os.open("deep.md", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as f:
            f.write("deep\n")
    finally:
        os.close(fd)


def remove_tree(top: Path) -> None:
    """Remove a folder tree of any depth without recursion (shutil.rmtree, which pytest's own
    clean-up uses, recurses once per level): each subfolder is first moved up beside `top`."""
    stack, moved = [top], 0
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as it:
            entries = list(it)
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                moved += 1
                hoisted = top.parent / f".{top.name}-rm-{moved}"
                os.rename(entry.path, hoisted)
                stack.append(hoisted)
            else:
                os.unlink(entry.path)
        os.rmdir(folder)


def _fast_folder(fallback: Path) -> Path:
    """A new folder in memory (/dev/shm) where there is one: making and removing 1,100 folders
    there takes milliseconds, on a disk a second or two."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return Path(tempfile.mkdtemp(prefix="smbos-test-", dir=shm))
    fallback.mkdir()
    return fallback


@pytest.fixture
def scratch(tmp_path):
    """A folder for deep trees (beside `deep`, so one can be moved into the other), removed
    here: pytest's own clean-up could not."""
    folder = _fast_folder(tmp_path / "scratch")
    yield folder
    remove_tree(folder)


@pytest.fixture(scope="module")
def deep(tmp_path_factory):
    """A folder holding `d`, 1,100 folders inside each other (what took the control plane down),
    made once: a test borrows it by moving it (`borrow`), which costs nothing."""
    folder = _fast_folder(tmp_path_factory.mktemp("deep") / "d")
    nest(folder, 1100)
    yield folder
    remove_tree(folder)


@contextlib.contextmanager
def borrow(deep: Path, into: Path):
    os.rename(deep / "d", into / "d")
    try:
        yield
    finally:
        os.rename(into / "d", deep / "d")


# ------------------------------------------------------------------------------ the walker


def test_walk_stops_at_depth_entries_and_deadline(deep, scratch):
    started = time.monotonic()
    result = walk.walk(deep)
    assert time.monotonic() - started < 1.0
    assert len(result.entries) == walk.MAX_DEPTH
    assert result.note.startswith("stopped at limit: folders nested more than 32 deep (at d/d/d")
    assert len(result.note) < 200

    for i in range(30):
        (scratch / f"f{i:02}").write_text("x")
    few = walk.walk(scratch, max_entries=10)
    assert [e.rel for e in few.entries] == [f"f{i:02}" for i in range(10)]
    assert few.note == "stopped at limit: more than 10 entries"
    late = walk.walk(scratch, seconds=-1)
    assert late.entries == [] and late.note.startswith("stopped at limit: took more than")
    assert walk.walk(scratch).complete and walk.walk(scratch).note == ""


def test_walk_notes_unreadable_folders_and_never_follows_links(scratch):
    (scratch / "long").mkdir()
    nest(scratch / "long", 20, "x" * 250)
    (scratch / "a").mkdir()
    os.symlink("../b", scratch / "a" / "to-b")
    os.symlink("../a", scratch / "a" / "loop")
    (scratch / "b").mkdir()
    os.symlink("b", scratch / "b" / "self")
    result = walk.walk(scratch)
    kinds = {e.rel: e.kind for e in result.entries}
    assert kinds["a/to-b"] == kinds["a/loop"] == kinds["b/self"] == walk.LINK
    assert not any(rel.startswith(("a/to-b/", "a/loop/", "b/self/")) for rel in kinds)
    assert "cannot read folder long/xxx" in result.note and "file name too long" in result.note
    assert len(result.note) < 250


# ------------------------------------------------------------------ the fleet around it


BROKEN = ("bob", "carol", "dave")


@pytest.fixture
def fleet(scratch, deep) -> Path:
    """alice is fine; the runtimes of bob (1,100 nested folders), carol (names past the path
    limit) and dave (link loops) wrote something strange into their memory."""
    agents = scratch / "agents"
    for agent_id in ("alice", *BROKEN):
        write_agent(
            agents,
            agent_id,
            {
                "name": agent_id.title(),
                "port": free_port(),
                "runtime": {"container_isolation": "none"},
            },
        )
    nest(agents / "carol" / "memory", 20, "y" * 250)
    for name, target in (("one", "two"), ("two", "one"), ("loop", "loop")):
        os.symlink(target, agents / "dave" / "memory" / name)
    with borrow(deep, agents / "bob" / "memory"):
        yield scratch


def test_cli_commands_degrade_only_that_agent(fleet):
    listed = run_smbos("list", "--json", cwd=fleet, env=NO_ENGINE)
    assert listed.code == 0, listed.output[:500]
    assert {a["id"] for a in json.loads(listed.stdout)} == {"alice", *BROKEN}
    validated = run_smbos("validate", cwd=fleet, env=NO_ENGINE)
    assert validated.code == 0, validated.output[:500]
    assert "agents/alice" not in validated.output
    for agent_id, why in (
        ("bob", "stopped at limit: folders nested more than 32 deep"),
        ("carol", "cannot read folder memory/yyy"),
        ("dave", None),
    ):
        lines = [line for line in validated.output.splitlines() if f"agents/{agent_id}" in line]
        if why is None:
            assert lines == [], lines  # a loop is inside the folder: nothing to say
            continue
        (line,) = lines
        assert line.startswith(f"warning: agents/{agent_id}: folders: {why}"), line
        assert len(line) < 300
    status = run_smbos("status", "--json", cwd=fleet, env=NO_ENGINE)
    assert status.code == 3, status.output[:500]  # the engine, not the folders
    alice = run_smbos("memory", "alice", cwd=fleet, env=NO_ENGINE)
    assert alice.code == 0 and "context.md" in alice.stdout and alice.stderr == ""
    for agent_id in BROKEN:
        shown = run_smbos("memory", agent_id, cwd=fleet, env=NO_ENGINE)
        assert shown.code == 0, shown.output[:500]
        assert "context.md" in shown.stdout
        assert len(shown.stderr.splitlines()) == (agent_id != "dave"), shown.stderr[:500]
        assert shown.stderr.startswith("warning: memory/ listed in part: ") or agent_id == "dave"
        assert len(shown.stderr) < 300
    bob = ops.list_memory(Project.from_options(fleet / "agents").load().get("bob"))
    assert bob.stopped.startswith("stopped at limit") and bob.files
    loop = run_smbos("memory", "dave", "loop", cwd=fleet, env=NO_ENGINE)
    assert loop.code == 2 and "no memory file 'loop'" in loop.stderr, loop.output


def test_ui_pages_and_memory_degrade_only_that_agent(fleet):
    project = Project.from_options(fleet / "agents", None, "walks")
    with make_client(create_app(project, TOKEN, docker_client=FakeDocker())) as client:
        for path in (
            "/",
            "/api/agents",
            "/api/status",
            *(f"/agents/{a}" for a in ("alice", *BROKEN)),
            *(f"/api/agents/{a}/memory" for a in ("alice", *BROKEN)),
        ):
            r = client.get(path, headers=AUTH)
            assert r.status_code == 200, (path, r.status_code, r.text[:300])
        assert {a["id"] for a in client.get("/api/agents", headers=AUTH).json()["agents"]} == {
            "alice",
            *BROKEN,
        }
        assert client.get("/api/agents/alice/memory", headers=AUTH).json()["stopped"] == ""
        for agent_id in BROKEN:
            listing = client.get(f"/api/agents/{agent_id}/memory", headers=AUTH).json()
            assert "context.md" in {f["path"] for f in listing["files"]}
            assert (
                bool(listing["stopped"]) == (agent_id != "dave") and len(listing["stopped"]) < 300
            )
        r = client.get("/api/agents/dave/memory/loop", headers=AUTH)
        assert r.status_code == 404 and r.json()["kind"] == "not_found", r.text


# ---------------------------------------------------------------------------- hard links


def test_a_hard_link_in_memory_is_never_shown(project):
    """bob's runtime made `memory/notes.md` another name of alice's `.env` (a hard link): its
    content is never shown, the listing and `validate` say why in one line."""
    agents = project / "agents"
    secret = "alice-secret-" + "q" * 24
    write_agent(agents, "alice", env=f"ANTHROPIC_API_KEY={secret}\n")
    write_agent(agents, "bob")
    os.link(agents / "alice" / ".env", agents / "bob" / "memory" / "notes.md")
    bob = Project.from_options(agents).load().get("bob")
    listing = {f["path"]: f for f in ops.list_memory(bob).files}
    assert listing["notes.md"]["viewable"] is False
    assert "hard link" in listing["notes.md"]["note"]
    with pytest.raises(Forbidden) as info:
        ops.read_memory(bob, "notes.md")
    assert "has 2 names (a hard link)" in str(info.value) and secret not in str(info.value)
    shown = run_smbos("memory", "bob", "notes.md", cwd=project, env=NO_ENGINE)
    assert shown.code == 2 and secret not in shown.output
    assert shown.stderr.startswith("error: notes.md: has 2 names (a hard link)"), shown.stderr
    listed = run_smbos("memory", "bob", cwd=project, env=NO_ENGINE)
    assert "notes.md  (not shown: a hard link)" in listed.stdout
    validated = run_smbos("validate", cwd=project, env=NO_ENGINE)
    assert validated.code == 0
    assert (
        "warning: agents/bob/memory/notes.md: hard link: has 2 names (a hard link): it may "
        "be another file on this host"
    ) in validated.output, validated.output
    with make_client(
        create_app(Project.from_options(agents, None, "walks"), TOKEN, docker_client=FakeDocker())
    ) as client:
        r = client.get("/api/agents/bob/memory/notes.md", headers=AUTH)
        assert r.status_code == 403 and secret not in r.text and "hard link" in r.json()["error"]


# ------------------------------------------------------------------------ handing folders


def test_up_hands_a_deep_memory_folder_over_within_limits(scratch, deep, monkeypatch):
    """As root, `smbos up` gives the memory folder to the runtime's user: a deep one is handed
    over down to the limit, and a note says so and what to run."""
    from types import SimpleNamespace

    from smbos import preflight

    agents = scratch / "agents"
    write_agent(agents, "bob")
    agent = Project.from_options(agents).load().get("bob")
    (agent.memory_dir).chmod(0o700)
    chowned: list[str] = []
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(
        os, "chown", lambda path, uid, gid, follow_symlinks=True: chowned.append(str(path))
    )
    monkeypatch.setattr(preflight, "_can", lambda path, uid, gid, want: path != agent.memory_dir)
    monkeypatch.setattr(preflight, "runtime_account_warning", lambda: "")  # whoever uid 1000 is
    notes: list[str] = []
    host = SimpleNamespace(state_dir=lambda agent_id: scratch / "state" / agent_id)
    with borrow(deep, agent.memory_dir):
        problems = preflight.prepare(agent, host, notes)
    assert problems == []
    assert len(chowned) == 1 + 1 + walk.MAX_DEPTH  # the folder, context.md, d/ ... d/
    (note,) = notes
    assert note.startswith(
        f"warning: gave {agent.memory_dir} to uid 1000 (the runtime's user) "
        "only in part (stopped at limit: folders nested more than 32 deep"
    )
    assert f"sudo chown -R 1000:1000 {agent.memory_dir}" in note
