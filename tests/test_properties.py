"""Property: whatever is done to a valid fleet, `smbos generate` either refuses it with one-line
problems (and leaves the previous Compose file alone) or writes a file Compose accepts, whose
values are the model's."""

from __future__ import annotations

import copy
import itertools
import json
import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from smbos.loader import load_fleet

from .conftest import ENV_EXAMPLE, compose_config_ok, run_smbos, write_agent

# `agents/<id>[/<file>]: [<field>: ]<message>`, or any `warning: ...` (generate sums them up).
PROBLEM_LINE = re.compile(r"^(?:warning: \S.*|agents/.*?: \S.*)$")
SENTINEL = b"# sentinel: the previous Compose file\n"
FILES = ["agent.md", "config.yaml", ".env.example", ".env"]

BASE_CONFIG = {
    "name": "Andy",
    "description": "Plans the week",
    "port": 3301,
    "runtime": {
        "assistant_name": "Andy",
        "timezone": "Europe/Berlin",
        "container_isolation": "none",
        "log_level": "info",
        "max_concurrent_containers": 3,
        "resources": {"cpus": 0.5, "memory": "512m", "pids": 256},
    },
    "channels": {"telegram": True, "telegram_only": False},
    "integrations": ["notion"],
    "tools": [{"id": "notion", "type": "mcp", "description": "Notion"}],
    "schedules": [
        {"id": "morning", "cron": "0 8 * * 1-5", "prompt": "Plan the day"},
        {"id": "sweep", "interval": "2h", "prompt": "Sweep", "context_mode": "isolated"},
        {"id": "launch", "once": "2099-12-01T09:00:00", "prompt": "Launch"},
    ],
    "skills": [{
        "id": "ask", "title": "Ask", "prompt": "Answer {question}",
        "inputs": [{"id": "question", "label": "Question", "type": "textarea",
                    "required": True}],
    }],
    "heal": {"enabled": True, "after": 2, "max_restarts": 3},
}
BASE_EXAMPLE = ENV_EXAMPLE + "\n# Notion.\nNOTION_TOKEN=\n\n# Telegram bot.\nTELEGRAM_BOT_TOKEN=\n"
BASE_ENV = "ANTHROPIC_API_KEY=sk-test\nNOTION_TOKEN=ntn-test\nTELEGRAM_BOT_TOKEN=1:test\n"

KEY_PATHS = [
    ("name",), ("description",), ("enabled",), ("port",), ("runtime",),
    ("runtime", "assistant_name"), ("runtime", "timezone"), ("runtime", "image"),
    ("runtime", "agent_image"), ("runtime", "container_isolation"), ("runtime", "log_level"),
    ("runtime", "max_concurrent_containers"), ("runtime", "swarms"), ("runtime", "resources"),
    ("runtime", "resources", "cpus"), ("runtime", "resources", "memory"),
    ("runtime", "resources", "pids"), ("channels",), ("channels", "telegram"),
    ("channels", "telegram_only"), ("integrations",), ("tools",), ("schedules",), ("skills",),
    ("heal",), ("heal", "enabled"), ("heal", "after"), ("heal", "max_restarts"),
    ("schedules", 0, "prompt"), ("schedules", 0, "cron"), ("schedules", 1, "interval"),
    ("schedules", 2, "once"), ("skills", 0, "prompt"), ("skills", 0, "inputs"),
]

# ------------------------------------------------------------------------- strategies

SPICY = st.sampled_from([
    "$", "$$", "${HOME}", "$HOME", "${X:-y}", '"', "'", "\\", "\n", "\r\n", "\r", "\t", "{}",
    "{question}", "{x}", "#", ": ", "- ", "---", "&a", "*a", "!!python/object", "%", "@", "`",
    "\x00", "\x07", "\x1b", "\x7f", "\x85", "\u2028", "\u2029", "\ufeff", "\ufffe", "\uffff",
    "é", "日本",
    "🙂", "\u202e", " ", "null", "yes", "0x1F", "1e3", "~",
])
texts = st.one_of(
    st.text(max_size=24),
    st.lists(st.one_of(SPICY, st.text(max_size=4)), max_size=6).map("".join),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=True), texts,
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.one_of(texts, st.integers(0, 3)), inner,
                                            max_size=3)),
    max_leaves=8,
)
names = st.one_of(texts, st.sampled_from(["Andy", "Ann $HOME", 'Q "x" \\ y', "{name}", "$$"]))
ports = st.one_of(st.integers(1024, 65535), st.integers(-5, 70_000),
                  st.sampled_from([3301, 3302, 1024, 65535, 3200]))
cron_values = st.one_of(texts, st.sampled_from([
    "0 8 * * 1-5", "61 * * * *", "* * *", "*/5 * * * *", "0 0 31 2 *", "@daily", "0 8 * * MON",
    "0 8 * * 1-5 2026", "", "  0  8  *  *  * ",
]))
interval_values = st.one_of(texts, st.integers(-10, 10**12), st.sampled_from([
    "90s", "15m", "2h", "1d", "5x", "10s", "59999", "60000", "1 h", "0",
]))
once_values = st.one_of(texts, st.sampled_from([
    "2026-12-01T09:00:00", "2026-12-01 09:00", "tomorrow", "2026-12-01T09:00:00+02:00",
    "2026-02-30T09:00:00", "2026-12-01",
]))
schedules = st.fixed_dictionaries(
    {"id": st.one_of(st.from_regex(r"\A[a-z0-9][a-z0-9-]{0,8}\Z"), texts),
     "prompt": st.one_of(st.just("Do it"), texts)},
    optional={"cron": cron_values, "interval": interval_values, "once": once_values,
              "context_mode": st.one_of(st.sampled_from(["group", "isolated"]), texts),
              "enabled": st.one_of(st.booleans(), values)},
)
valid_ids = st.from_regex(r"\A[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?\Z")
folder_names = st.one_of(
    valid_ids,
    st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)),
            min_size=1, max_size=40),
).filter(lambda n: n not in (".", "..") and not n.startswith(".")
         and len(n.encode()) <= 200)

config_mutations = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(KEY_PATHS), values),
    st.tuples(st.just("set"), st.sampled_from([("name",), ("runtime", "assistant_name"),
                                               ("description",), ("runtime", "agent_image"),
                                               ("runtime", "image"),
                                               ("schedules", 0, "prompt")]), names),
    st.tuples(st.just("set"), st.just(("port",)), ports),
    st.tuples(st.just("set"), st.just(("runtime", "timezone")),
              st.one_of(texts, st.sampled_from(["UTC", "Asia/Tokyo", "America/New_York",
                                                "Europe/Berln", "../etc/passwd"]))),
    st.tuples(st.just("set"), st.just(("runtime", "resources", "memory")),
              st.one_of(texts, st.sampled_from(["1g", "0b", "1.5G", "512", "2t"]))),
    st.tuples(st.just("set"), st.just(("runtime", "resources", "cpus")),
              st.one_of(st.floats(), st.integers(-1, 300))),
    st.tuples(st.just("set"), st.tuples(texts), values),  # an unknown top-level key
    st.tuples(st.just("del"), st.sampled_from(KEY_PATHS)),
    st.tuples(st.just("schedule"), schedules),
    st.tuples(st.just("replace"), values),  # the whole config.yaml document
)
file_mutations = st.one_of(
    st.tuples(st.just("truncate"), st.sampled_from(FILES), st.floats(0, 1)),
    st.tuples(st.just("bytes"), st.sampled_from(FILES), st.binary(max_size=64)),
    st.tuples(st.just("text"), st.sampled_from(FILES), texts),
    st.tuples(st.just("agent.md"), values, texts),
    st.tuples(st.just("rename"), folder_names),
)
valid_schedules = st.fixed_dictionaries({
    "id": st.from_regex(r"\Az[a-z0-9-]{0,8}\Z"),
    "prompt": texts.filter(str.strip),
}).flatmap(lambda item: st.one_of(
    st.just({**item, "cron": "*/15 9-17 * * 1-5"}),
    st.builds(lambda v: {**item, "interval": v},
              st.one_of(st.integers(60_000, 10**9), st.sampled_from(["90s", "15m", "1d"]))),
    st.builds(lambda v: {**item, "once": v.isoformat(timespec="seconds")},
              st.datetimes(min_value=datetime(2100, 1, 1))),  # a `once` in the past is an error
))
# Changes that keep the folder valid more often than not, so the Compose side gets exercised.
tame_mutations = st.one_of(
    st.tuples(st.just("set"), st.sampled_from([("name",), ("runtime", "assistant_name"),
                                               ("description",), ("runtime", "agent_image"),
                                               ("schedules", 0, "prompt")]), names),
    st.tuples(st.just("set"), st.just(("port",)), st.integers(1024, 65535)),
    st.tuples(st.just("set"), st.just(("runtime", "timezone")),
              st.sampled_from(["UTC", "Asia/Tokyo", "America/Argentina/Buenos_Aires"])),
    st.tuples(st.just("set"), st.sampled_from([("enabled",), ("runtime", "swarms"),
                                               ("channels", "telegram_only")]), st.booleans()),
    st.tuples(st.just("set"), st.just(("runtime", "resources", "cpus")),
              st.floats(0.01, 256)),
    st.tuples(st.just("del"), st.sampled_from([("port",), ("name",), ("runtime", "assistant_name"),
                                               ("schedules",), ("runtime",), ("skills",)])),
    st.tuples(st.just("schedule"), valid_schedules),
)
agent_mutations = st.one_of(
    st.tuples(st.lists(tame_mutations, max_size=4), st.just([]),
              st.sampled_from(["plain", "unicode", "flow"])),
    st.tuples(st.lists(config_mutations, max_size=4), st.lists(file_mutations, max_size=2),
              st.sampled_from(["plain", "unicode", "flow"])),
)


# ----------------------------------------------------------------------------- helpers


def _set(doc, path: tuple, value) -> object:
    """`doc` with `value` at `path`, creating (or replacing non-container) parents on the way."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        if not isinstance(doc, list):
            doc = []
        while len(doc) <= head:
            doc.append({})
        doc[head] = _set(doc[head], rest, value)
        return doc
    if not isinstance(doc, dict):
        doc = {}
    doc[head] = _set(doc.get(head), rest, value)
    return doc


def _delete(doc, path: tuple) -> None:
    for part in path[:-1]:
        try:
            doc = doc[part]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(doc, dict):
        doc.pop(path[-1], None)
    elif isinstance(doc, list) and isinstance(path[-1], int) and path[-1] < len(doc):
        del doc[path[-1]]


def _dump(doc, style: str) -> str:
    try:
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=style == "unicode",
                              default_flow_style=style == "flow")
    except yaml.YAMLError:
        return yaml.safe_dump(repr(doc))


def _build(agents: Path, agent_id: str, port: int, mutations) -> None:
    config_ops, file_ops, style = mutations
    config = copy.deepcopy(BASE_CONFIG)
    config["name"] = agent_id.title()
    config["port"] = port
    for op in config_ops:
        if op[0] == "set":
            config = _set(config, op[1], op[2])
        elif op[0] == "del":
            _delete(config, op[1])
        elif op[0] == "schedule":
            if isinstance(config, dict) and isinstance(config.get("schedules"), list):
                config["schedules"].append(op[1])
            else:
                config = _set(config, ("schedules",), [op[1]])
        elif op[0] == "replace":
            config = op[1]
    folder = write_agent(agents, agent_id, None, env_example=BASE_EXAMPLE, env=BASE_ENV)
    (folder / "config.yaml").write_text(_dump(config, style), encoding="utf-8")
    for op in file_ops:
        if op[0] == "rename":
            target = agents / op[1]
            if not target.exists():
                folder = folder.rename(target)
            continue
        if op[0] == "agent.md":
            front = _dump(op[1], "plain") if op[1] is not None else ""
            (folder / "agent.md").write_text(f"---\n{front}---\n{op[2]}\n", encoding="utf-8")
            continue
        path = folder / op[1]
        if op[0] == "truncate":
            data = path.read_bytes()
            path.write_bytes(data[:int(len(data) * op[2])])
        elif op[0] == "bytes":
            path.write_bytes(op[2])
        elif op[0] == "text":
            path.write_text(op[2], encoding="utf-8")


_counter = itertools.count()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(andy=agent_mutations, bob=agent_mutations,
       bob_port=st.integers(0, 4).map(lambda i: 3301 if i == 0 else 3302))  # 3301: andy's
def test_generate_refuses_cleanly_or_writes_a_file_compose_accepts(
        tmp_path_factory, compose_bin, andy, bob, bob_port):
    project = tmp_path_factory.mktemp(f"prop{next(_counter)}", numbered=False)
    try:
        agents = project / "agents"
        agents.mkdir()
        _build(agents, "andy", 3301, andy)
        _build(agents, "bob", bob_port, bob)
        target = project / "compose" / "docker-compose.yml"
        target.parent.mkdir()
        target.write_bytes(SENTINEL)

        result = run_smbos("generate", cwd=project, timeout=60)
        event(f"generate exited {result.code}")
        assert "Traceback" not in result.output, result.output
        assert result.code in (0, 2), result
        lines = result.stderr.splitlines()
        for line in lines:
            assert PROBLEM_LINE.match(line), f"not a one-line problem: {line!r}"
        if result.code == 2:
            assert any(not line.startswith("warning: ") for line in lines), result.stderr
            assert target.read_bytes() == SENTINEL
            assert sorted(p.name for p in target.parent.iterdir()) == ["docker-compose.yml"]
            return

        check = compose_config_ok(compose_bin, target)
        assert check.returncode == 0, (check.stderr, target.read_text())
        doc = yaml.safe_load(target.read_text(encoding="utf-8"))
        fleet = load_fleet(agents)
        assert not fleet.errors, fleet.errors
        services = doc["services"] or {}
        assert sorted(services) == sorted(a.id for a in fleet.enabled)
        for agent in fleet.enabled:
            env = services[agent.id]["environment"]
            assert env["ASSISTANT_NAME"].replace("$$", "$") == agent.assistant_name
            assert agent.assistant_name.splitlines() == [agent.assistant_name]
            assert env["SMBOS_AGENT_ID"] == agent.id
            assert services[agent.id]["ports"][0]["published"] == str(agent.port)
    finally:
        shutil.rmtree(project, ignore_errors=True)


@pytest.mark.parametrize("char", ["\ufffe", "\uffff", "\ufeff", "\x85", "\u2028", "\x00"])
def test_unprintable_characters_are_escaped_in_the_compose_file(project: Path, char: str) -> None:
    """Found by the property above: YAML forbids U+FFFE/U+FFFF raw, so they must be escaped."""
    write_agent(project / "agents", "andy", {
        "name": "Andy", "runtime": {"container_isolation": "none"},
        "schedules": [{"id": "x", "cron": "0 8 * * *", "prompt": f"odd {char} char"}]})
    result = run_smbos("generate", cwd=project)
    assert result.code == 0, result
    text = (project / "compose" / "docker-compose.yml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    schedules = json.loads(doc["services"]["andy"]["environment"]["SMBOS_SCHEDULES"])
    assert schedules[0]["prompt"] == f"odd {char} char"


# ------------------------------------------------------------ the folder loader, fuzzed

# YAML an operator (or a tool, or an attacker) may write: anchors and aliases, tags of every
# kind, values a tag cannot hold, huge and odd numbers, deep nesting, duplicate keys, control
# characters, byte order marks, several documents, merge keys, directives.
ODD_YAML_SNIPPETS = [
    "name: &n Andy\ndescription: *n\n", "a: &a [1]\nb: [*a, *a]\n", "runtime: &r {}\n",
    "name: !!python/object/apply:os.system ['true']\n", "name: !custom x\n", "port: !!int abc\n",
    "port: !!float 3301\n", "enabled: !!bool maybe\n", "name: !!binary aGVsbG8=\n",
    "name: !!timestamp 2020-13-01\n", "port: 99999999999999999999999999999999\n",
    "port: 0x0CE5\n", "port: 1_0_2_4\n", "port: 190:20:30\n", "name: 1e400\n",
    "runtime: {resources: {cpus: .nan}}\n", "runtime: {resources: {cpus: -.inf}}\n",
    "heal: {after: 10000000000000000000000}\n", "[" * 300 + "]" * 300 + "\n",
    "a:\n" + "".join("  " * i + "- \n" for i in range(1, 80)),
    "name: a\nname: b\n", "{a: 1, a: 1}\n", "runtime: {timezone: UTC, timezone: UTC}\n",
    "<<: {name: x}\n", "name: \"\\x1b[31m[/]\"\n", "name: \"\\u2028\"\n", "name: \"\\0\"\n",
    "name: \"\\ud800\"\n", "\ufeffname: x\n", "%YAML 1.1\n---\nname: x\n", "--- 1\n--- 2\n",
    "? [a, b]\n: 1\n", "? {a: 1}\n: 1\n", "!!map {}\n", "!!seq []\n", "~\n", "''\n",
    "schedules: [{id: x, once: 2099-13-01T09:00:00, prompt: p}]\n",
    "schedules: [{id: x, once: 2099-01-01, prompt: p}]\n",
    "schedules: [{id: x, once: !!timestamp 2099-01-01T09:00:00Z, prompt: p}]\n",
    "schedules: [{id: x, cron: '0 0 31 2 *', prompt: p}]\n",
    "schedules: [{id: x, interval: !!int 99999999999999999999999, prompt: p}]\n",
    "schedules: [{id: x, cron: '* * * * *', prompt: '" + "p" * 140_000 + "'}]\n",
    "skills: [{id: s, title: t, prompt: '{a}', inputs: [{id: a, label: l, type: date, "
    "default: 2026-02-30}]}]\n",
    "credentials: {calendar: ../../etc}\nintegrations: [calendar]\n",
    "tools: [{id: t, type: mcp, command: x, env: {A: 'B C'}}]\n",
    "channels: {telegram_chats: [{id: 'tg:1'}, {id: 'tg:1'}]}\n",
]
ODD_YAML = st.sampled_from(ODD_YAML_SNIPPETS)
AGENT_MD_TEXTS = st.one_of(
    texts,
    st.builds(lambda front, body: f"---\n{front}---\n{body}\n", ODD_YAML, texts),
    st.builds(lambda body: f"---\nname: A\n---\n{body}\n", st.sampled_from([
        "<!-- smbos:identity:end -->", "<!-- smbos:identity:begin -->", "", "\u2028---",
        "\x1b]8;;https://evil.example\x07x", "[/]"])),
    st.sampled_from(["---\nname: A\n", " ---\nname: A\n---\nb\n", "----\nb\n", "\ufeff# A\n",
                     "---\r---\rb", "---\u2028---\nb\n"]),
)
ENV_TEXTS = st.one_of(
    texts,
    st.lists(st.sampled_from([
        "ANTHROPIC_API_KEY=", "ANTHROPIC_API_KEY=sk-test", "# not secret", "# optional",
        "# Not secret-free", "export K=v", "K", "=v", "K=a # b", "K='x", "[/]=1", "\x1b=1",
        "NOTION_TOKEN=", "TELEGRAM_BOT_TOKEN=", "API_KEY=", "\ufeffK=v", "K=\u2028",
        "sk-ant-api03-" + "x" * 40, "",
    ]), max_size=8).map("\n".join),
)
FILE_CONTENTS = {
    "agent.md": AGENT_MD_TEXTS,
    "config.yaml": st.one_of(ODD_YAML, texts, st.lists(ODD_YAML, max_size=3).map("".join)),
    ".env.example": ENV_TEXTS,
    ".env": ENV_TEXTS,
}
folder_files = st.fixed_dictionaries({}, optional={
    name: st.one_of(contents.map(lambda t: t.encode("utf-8", "surrogatepass")),
                    st.binary(max_size=48), st.just(None))  # None: the file is missing
    for name, contents in FILE_CONTENTS.items()})


def _validate_cleanly(project: Path) -> int:
    """The loader returns problems and never raises; `validate` and `list` print them one a
    line and exit 0 or 2, as the problems say: never 70, never a traceback."""
    agents = project / "agents"
    fleet = load_fleet(agents)
    assert all(p.message for p in fleet.problems), fleet.problems
    result = run_smbos("validate", cwd=project, timeout=30)
    assert "Traceback" not in result.output, result.output
    assert result.code == (2 if fleet.errors else 0), result
    for line in result.stderr.splitlines():
        assert PROBLEM_LINE.match(line), f"not a one-line problem: {line!r}"
    listed = run_smbos("list", cwd=project, timeout=30)
    assert listed.code == result.code, listed
    return result.code


@pytest.mark.parametrize("where", ["config.yaml", "agent.md"])
def test_every_odd_yaml_is_a_problem_or_fine(project: Path, where: str) -> None:
    for snippet in ODD_YAML_SNIPPETS:
        folder = write_agent(project / "agents", "andy")
        if where == "config.yaml":
            (folder / where).write_text(snippet, encoding="utf-8", errors="surrogatepass")
        else:
            (folder / where).write_text(f"---\n{snippet}---\n# Andy\n", encoding="utf-8",
                                        errors="surrogatepass")
        _validate_cleanly(project)


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(files=folder_files, name=st.one_of(valid_ids, folder_names))
def test_the_loader_reports_any_folder_in_problem_lines(tmp_path_factory, files, name) -> None:
    """Whatever an agent folder holds (and whatever its name), the loader reports problems:
    `_validate_cleanly`."""
    project = tmp_path_factory.mktemp(f"load{next(_counter)}", numbered=False)
    try:
        agents = project / "agents"
        agents.mkdir()
        folder = write_agent(agents, "andy")
        for file, data in files.items():
            if data is None:
                (folder / file).unlink(missing_ok=True)
            else:
                (folder / file).write_bytes(data)
        if name != "andy":
            folder.rename(agents / name)
        event(f"validate exited {_validate_cleanly(project)}")
    finally:
        shutil.rmtree(project, ignore_errors=True)
