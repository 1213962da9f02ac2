"""Writers of one file take turns (smbos/files.py `locked`): parallel writers of an agent's `.env`
(the UI's settings, `smbos env`, in threads or processes) keep every change, and parallel
`smbos new` never give two agents one port. A writer that cannot have the lock, or whose file
changed under it, is refused, never silently lost."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from smbos import envfile, files, ports, scaffold
from smbos import operations as ops
from smbos.errors import Refused
from smbos.project import Project

from .conftest import ROOT, run_smbos, write_agent


def test_parallel_settings_writes_keep_every_key(project):
    """20 writers of distinct keys at once, each as the UI's settings page writes (threads
    sharing one process, as the UI's thread pool does)."""
    write_agent(project / "agents", "alpha")
    agent = Project.from_options(project / "agents").load().get("alpha")
    start = threading.Barrier(20)

    def write(i: int):
        start.wait()
        return ops.update_env(agent, {f"KEY_{i:02}": f"value-{i}"})

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(write, range(20)))
    assert all(r.changed == [f"KEY_{i:02}"] for i, r in enumerate(results))
    values = envfile.read_env(agent.env_path)
    assert {k: v for k, v in values.items() if k.startswith("KEY_")} == {
        f"KEY_{i:02}": f"value-{i}" for i in range(20)
    }
    assert values["ANTHROPIC_API_KEY"] == "sk-test-placeholder"
    assert (agent.folder / ".env.lock").is_file()


def test_parallel_env_writer_processes_keep_every_key(tmp_path):
    """10 processes write one `.env` at the same moment, each a key of its own (what 20 parallel
    `smbos env` did: 4 keys kept). Each imports only the writer, so the test stays quick."""
    env = tmp_path / ".env"
    env.write_text("KEEP=1\n")
    at = time.time() + 0.6
    script = (
        "import sys, time; from pathlib import Path; from smbos import envfile; "
        "time.sleep(max(0, float(sys.argv[3]) - time.time())); "
        "envfile.write_env(Path(sys.argv[1]), {sys.argv[2]: 'v'})"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(env), f"PKEY_{i}", str(at)], cwd=ROOT)
        for i in range(10)
    ]
    assert [p.wait(60) for p in procs] == [0] * 10
    assert envfile.read_env(env) == {"KEEP": "1", **{f"PKEY_{i}": "v" for i in range(10)}}


def test_parallel_smbos_new_gives_every_agent_its_own_port(project):
    """8 `smbos new` at once (what `new` does, in threads: locks exclude threads as processes)."""
    proj = Project.from_options(project / "agents")
    start = threading.Barrier(8)

    def new(i: int):
        start.wait()
        return scaffold.new_agent(proj, f"agent-{i}", "basic", f"Agent {i}", "x", None)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(new, range(8)))
    assert [problems for _, _, problems, _ in results] == [[]] * 8
    found = {
        folder.name: yaml.safe_load((folder / "config.yaml").read_text())["port"]
        for folder in (project / "agents").iterdir()
        if folder.is_dir()
    }
    assert found == {f"agent-{i}": port for i, (_, port, _, _) in enumerate(results)}
    assert len(set(found.values())) == 8, found
    listed = run_smbos("validate", cwd=project)
    assert listed.code == 0 and ".lock" not in listed.output, listed.output


def test_a_writer_that_cannot_have_the_lock_is_refused(tmp_path):
    target = tmp_path / ".env"
    target.write_text("A=1\n")
    with files.locked(target, ".env"):
        with pytest.raises(Refused, match=r"another writer has held \.env\.lock for more than"):
            with files.locked(target, ".env", wait=0.05):
                pass
    with files.locked(target, ".env", wait=0.05):  # released: free again
        pass


def test_a_port_record_changed_meanwhile_is_refused_not_overwritten(tmp_path):
    record = tmp_path / ports.PORTS_FILE
    record.write_text(json.dumps({"other": 3300}))
    with pytest.raises(Refused, match="changed by another command while this one ran"):
        ports.save_record(record, {}, {"mine": 3301})
    assert json.loads(record.read_text()) == {"other": 3300}
    assert ports.save_record(record, {"other": 3300}, {"mine": 3301, "other": 3300})
    assert not ports.save_record(record, {}, {"mine": 3301, "other": 3300}), "already there"


def test_lock_files_are_git_ignored():
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    for path in ("agents/.ports.json.lock", "agents/andy/.env.lock"):
        result = subprocess.run([git, "check-ignore", "-q", "--no-index", path], cwd=ROOT)
        assert result.returncode == 0, f"{path} is not git-ignored"
