"""`agent.md` is read one way: by SMBOS (smbos/agentmd.py) and by the image's entrypoint
(`readAgentMd`), which writes its body into CLAUDE.md. Both follow one set of cases
(tests/fixtures/agent-md-cases.json) and agree on random texts. (The identity block itself is
tested by node beside it: smbos/nanoclaw/image/entrypoint/identity.test.mjs.)"""

from __future__ import annotations

import json
import random

import pytest

from smbos import agentmd

from .conftest import ROOT, node_eval, run_smbos, write_agent

CASES_FILE = ROOT / "tests" / "fixtures" / "agent-md-cases.json"
CASES = json.loads(CASES_FILE.read_text(encoding="utf-8"))
IDENTITY = ROOT / "smbos" / "nanoclaw" / "image" / "entrypoint" / "identity.mjs"


def python_reading(text: str) -> dict:
    try:
        parts = agentmd.read(text)
    except agentmd.AgentMdError as exc:
        return {"error": f"agent.md: {exc.field}: {exc}"}
    return {"front": parts.front, "body": parts.body}


def expected(case: dict) -> dict:
    if "error" in case:
        return {"error": f"agent.md: {case['error']['field']}: {case['error']['message']}"}
    return {"front": case["front"], "body": case["body"]}


def entrypoint_readings(texts: list[str]) -> list[dict]:
    """`readAgentMd` of each text, in one run of node."""
    return node_eval(
        f"import {{ readAgentMd }} from {json.dumps(str(IDENTITY))};\n"
        f"const texts = {json.dumps(texts)};\n"
        "const out = texts.map((t) => { try { return readAgentMd(t); }"
        " catch (err) { return { error: err.message }; } });\n"
        "process.stdout.write(JSON.stringify(out));\n"
    )


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_smbos_reads_agent_md_by_the_cases(case: dict) -> None:
    assert python_reading(case["text"]) == expected(case)


def test_the_entrypoint_reads_agent_md_by_the_same_cases() -> None:
    theirs = entrypoint_readings([c["text"] for c in CASES])
    for case, reading in zip(CASES, theirs):
        assert reading == expected(case), case["name"]


def test_both_readers_agree_on_random_texts() -> None:
    rng = random.Random(19)
    pieces = [
        "---",
        "...",
        "--- ",
        " ---",
        "\t",
        " ",
        "\n",
        "\r\n",
        "\r",
        "\u2028",
        "\u2029",
        "\x85",
        "\x0b",
        "\x0c",
        "\x1c",
        "\ufeff",
        "\u00a0",
        "\u3000",
        "name: A",
        "# T",
        "x",
        "é",
        agentmd.END,
        agentmd.BEGIN,
        "<!--",
        "----",
    ]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 14))) for _ in range(600)]
    for text, theirs in zip(texts, entrypoint_readings(texts)):
        assert python_reading(text) == theirs, repr(text)


@pytest.mark.parametrize("marker", [agentmd.END, agentmd.BEGIN])
def test_validate_refuses_a_body_holding_an_identity_marker(project, marker: str) -> None:
    write_agent(
        project / "agents",
        "andy",
        agent_md=f"---\nname: Andy\n---\n# Andy\n\nWrite {marker} here.\n",
    )
    result = run_smbos("validate", cwd=project)
    assert result.code == 2, result
    assert result.stderr == (
        f"agents/andy/agent.md: body: holds {marker!r}, a marker of the "
        "identity block SMBOS writes into CLAUDE.md; remove it\n"
    )
