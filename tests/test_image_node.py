"""The image's Node code, in the fast tier: its own tests, and the names it shares with SMBOS.

- `node --test` over smbos/nanoclaw/image/ (each module's `*.test.mjs` beside it: Node's own runner, no
  dependencies), and a test file for every module.
- NanoClaw's IPC files are written by SMBOS (`schedules.queue`) and by the entrypoint (schedule
  reconciliation, chat registration): the files both leave match the one schema
  (smbos/nanoclaw/image/interface.json, `ipc`), and both checks of it agree.
- Dockerfile.nanoclaw and the `container` shim cannot read interface.json: the names they use
  are checked against it here.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile

import pytest

from smbos.nanoclaw import interface, ipc, schedules

from .conftest import IN_CI, ROOT, node_eval

IMAGE = ROOT / "smbos" / "nanoclaw" / "image"
ENTRYPOINT_DIR = IMAGE / "entrypoint"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        if IN_CI:
            pytest.fail("node is required in CI (the image's modules are tested with it)")
        pytest.skip("node not found")
    return node


def _modules() -> list:
    return sorted(p for p in IMAGE.rglob("*.mjs") if not p.name.endswith(".test.mjs"))


def test_every_image_module_has_node_tests_beside_it() -> None:
    modules = _modules()
    assert len(modules) > 10, modules
    missing = [
        str(p.relative_to(ROOT))
        for p in modules
        if not p.with_name(p.name.removesuffix(".mjs") + ".test.mjs").is_file()
    ]
    assert missing == []


class NodeTests:
    """`node --test` over smbos/nanoclaw/image/, run in the background: each test file is a process of
    its own and most of their time is Node starting, so conftest.py starts them when the
    session's tests are collected, beside the Python tests, and the test below waits."""

    process: subprocess.Popen | None = None
    output = None

    @classmethod
    def start(cls) -> None:
        node = shutil.which("node")
        if cls.process is not None or node is None:
            return
        tests = sorted(IMAGE.rglob("*.test.mjs"))
        cls.output = tempfile.TemporaryFile(mode="w+")
        cls.process = subprocess.Popen(
            [node, "--test", f"--test-concurrency={len(tests)}", *map(str, tests)],
            cwd=ROOT,
            stdout=cls.output,
            stderr=subprocess.STDOUT,
            text=True,
        )

    @classmethod
    def result(cls) -> tuple[int, str]:
        _node()
        cls.start()
        assert cls.process is not None and cls.output is not None
        code = cls.process.wait(timeout=120)
        cls.output.seek(0)
        return code, cls.output.read()

    @classmethod
    def stop(cls) -> None:
        if cls.process is not None and cls.process.poll() is None:
            cls.process.kill()
            cls.process.wait()


def test_the_image_modules_pass_their_node_tests() -> None:
    code, out = NodeTests.result()
    failed = [line for line in out.splitlines() if line.lstrip().startswith("not ok")]
    assert code == 0, "\n".join(failed) + "\n" + out[-6000:]
    assert re.search(r"^# fail 0$", out, re.M), out[-2000:]
    assert int(re.search(r"^# pass (\d+)$", out, re.M).group(1)) >= len(_modules())


# ------------------------------------------------------------------------- NanoClaw's IPC


BAD_JOBS = [
    {"type": "pause_task"},
    {"type": "pause_task", "taskId": ""},
    {"type": "cancel_task", "taskId": "t", "extra": 1},
    {
        "type": "register_group",
        "jid": "tg:1",
        "name": "n",
        "folder": "f",
        "trigger": "@A",
        "requiresTrigger": "no",
    },
    {
        "type": "schedule_task",
        "taskId": "t",
        "targetJid": "j",
        "prompt": "p",
        "schedule_type": "weekly",
        "schedule_value": "v",
        "context_mode": "group",
    },
    {"type": "update_task", "taskId": "t"},
    {"type": "toString"},
    ["not", "an", "object"],
]


def test_both_writers_leave_ipc_files_that_match_the_one_schema(tmp_path) -> None:
    instance = tmp_path / "state"
    # SMBOS on the host: a pause, resume and cancel in a task's own group.
    tasks = instance.joinpath(*ipc.tasks_parts("telegram-5"))
    tasks.mkdir(parents=True)
    for action in schedules.ACTIONS:
        schedules.queue(instance, "t1", "telegram-5", action)
    # The entrypoint: reconciliation (create, update, cancel) and chats (register, unregister).
    (instance / interface.NAMES["instance"]["telegram_managed"]).write_text('{"chats": ["tg:9"]}')
    nanoclaw = tmp_path / "nanoclaw" / "dist"
    nanoclaw.mkdir(parents=True)
    (nanoclaw / "index.js").write_text("startSchedulerLoop( startIpcWatcher(")
    (nanoclaw / "ipc.js").write_text("data.taskId")
    schedule = {
        "id": "daily",
        "prompt": "p",
        "schedule_type": "cron",
        "schedule_value": "0 9 * * *",
        "context_mode": "isolated",
    }
    runtime_tasks = [
        {
            "id": "smbos-daily",
            "prompt": "old",
            "schedule_type": "cron",
            "schedule_value": "0 9 * * *",
            "context_mode": "isolated",
            "group_folder": "web-chat",
        },
        {
            "id": "smbos-gone",
            "prompt": "p",
            "schedule_type": "once",
            "schedule_value": "2030-01-01T00:00:00",
            "context_mode": "group",
            "group_folder": "web-chat",
        },
    ]
    chat = {
        "jid": "tg:5",
        "name": "Me",
        "folder": "telegram-5",
        "trigger": "@A",
        "requires_trigger": True,
    }
    verdicts = node_eval(f"""
import {{ prepareChats }} from {json.dumps(str(ENTRYPOINT_DIR / "channels.mjs"))};
import {{ ipcProblems }} from {json.dumps(str(ENTRYPOINT_DIR / "ipc.mjs"))};
import {{ reconcileSchedules }} from {json.dumps(str(ENTRYPOINT_DIR / "schedules.mjs"))};
const instanceDir = {json.dumps(str(instance))};
const quiet = process.stdout.write.bind(process.stdout);
process.stdout.write = () => true;
prepareChats({{ instanceDir, memoryDir: instanceDir,
  telegram: {{ enabled: true, chats: [{json.dumps(chat)}] }} }}, () => {{}});
await reconcileSchedules({{ instanceDir, nanoclawDir: {json.dumps(str(nanoclaw.parent))},
  httpPort: 1, schedules: [{json.dumps(schedule)}, {{ ...{json.dumps(schedule)}, id: 'new' }}] }},
  {{ getJson: async () => ({{ status: 200, data: {{ tasks: {json.dumps(runtime_tasks)} }} }}) }});
process.stdout.write = quiet;
console.log(JSON.stringify({json.dumps(BAD_JOBS)}.map(ipcProblems)));
""")
    files = sorted((instance / "data" / "ipc").rglob("*"))
    jobs = {}
    for file in files:
        if file.is_dir():
            continue
        assert file.name.startswith(ipc.SCHEMA["file_prefix"]), file
        assert file.name.endswith(ipc.SCHEMA["file_suffix"]), file  # no half-written file left
        jobs[str(file.relative_to(instance))] = json.loads(file.read_text())
    kinds = sorted(job["type"] for job in jobs.values())
    assert kinds == sorted(
        [
            "pause_task",
            "resume_task",
            "cancel_task",  # SMBOS
            "schedule_task",
            "schedule_task",
            "cancel_task",  # reconciliation
            "register_group",
            "unregister_group",
        ]
    ), jobs  # chats
    assert {name: ipc.problems(job) for name, job in jobs.items()} == {name: [] for name in jobs}
    assert set(ipc.JOBS) == set(kinds), "every job of the schema has a writer"
    # The two checks of the schema say the same of jobs it refuses.
    assert verdicts == [ipc.problems(job) for job in BAD_JOBS]
    assert all(verdicts), verdicts


def test_smbos_refuses_to_write_a_job_the_schema_does_not_allow(tmp_path) -> None:
    with pytest.raises(ValueError, match="IPC job pause_task: taskId: expected a non-empty"):
        ipc.job("pause_task", taskId="")
    with pytest.raises(ValueError, match="not a field of cancel_task"):
        ipc.job("cancel_task", taskId="t", folder="main")
    assert ipc.job_file("chat-telegram-5") == "smbos-chat-telegram-5.json"


# -------------------------------------------------- the names, where JSON cannot be read


def test_the_container_shim_uses_the_shared_labels_and_keys() -> None:
    text = (IMAGE / "container").read_text()
    labels = dict(re.findall(r"^LABEL_([A-Z_]+)=(\S+)$", text, re.M))
    assert labels == {
        "TURN": interface.LABEL_TURN,
        "AGENT": interface.LABEL_AGENT,
        "PROJECT": interface.LABEL_PROJECT,
    }
    code = "\n".join(
        line
        for line in text.splitlines()
        if not line.lstrip().startswith("#") and not line.startswith("LABEL_")
    )
    assert "io.smbos." not in code, "a label the shim writes by hand"
    keys = set(re.findall(r"\bSMBOS_[A-Z_]+", code))
    assert keys and keys <= set(interface.ENV.values()), keys - set(interface.ENV.values())


def test_the_dockerfile_uses_the_shared_names_and_copies_every_module() -> None:
    text = (ROOT / "Dockerfile.nanoclaw").read_text()
    container = interface.NAMES["container"]
    env = dict(re.findall(r"\b(SMBOS_[A-Z_]+|HTTP_PORT)=(\S+)", text))
    assert env == {
        interface.ENV["agent_dir"]: container["agent_dir"],
        interface.ENV["store_dir"]: container["store_dir"],
        interface.ENV["relay_port"]: str(container["relay_port"]),
        interface.ENV["runtime_port"]: str(container["runtime_port"]),
    }
    assert f"USER {container['user']}" in text
    assert f'LABEL {interface.LABEL_IMAGE}="nanoclaw"' in text
    assert f"CMD {json.dumps(interface.HEALTHCHECK)}" in text
    assert 'ENTRYPOINT ["node", "/opt/smbos/entrypoint.mjs"]' in text
    # Every file the programs import reaches /opt/smbos, and the test files stay out.
    copied = " ".join(re.findall(r"^COPY (smbos/nanoclaw/image/\S.*) /opt/smbos/", text, re.M))
    for module in _modules():
        relative = module.relative_to(ROOT).as_posix()
        assert relative in copied or f"{module.parent.relative_to(ROOT).as_posix()}/" in copied, (
            relative
        )
    assert "smbos/nanoclaw/image/interface.json" in copied
    assert "**/*.test.mjs" in (ROOT / ".dockerignore").read_text().splitlines()


def test_the_image_code_takes_shared_names_from_interface_json() -> None:
    """No `.mjs` file spells a shared label, key or file name: it reads interface.json."""
    names = interface.NAMES
    shared = {
        *names["labels"].values(),
        *names["env"].values(),
        *(v for k, v in names["instance"].items() if not k.startswith("$")),
        *names["identity"].values(),
    }
    found = []
    for module in _modules():
        code = re.sub(r"^\s*//.*$|^\s*\*.*$|/\*\*.*?\*/", "", module.read_text(), flags=re.M)
        for value in shared:
            if re.search(rf"['\"`]{re.escape(value)}['\"`]", code):
                found.append(f"{module.relative_to(ROOT)}: {value}")
    assert found == []
