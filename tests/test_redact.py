"""smbos/redact.py: the forms a secret reaches text in, a secret split across a stream's texts,
and the values too short or too common to hide (reported by `smbos validate`)."""

from __future__ import annotations

import json
import re
from urllib.parse import quote, quote_plus, urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from smbos import redact
from smbos.redact import Redactor

from .conftest import run_smbos, write_agent
from .test_web_api import folders  # noqa: F401 - a fixture

ODD = 'pa"ss\\w/rd+&=é ünï 💥-Zq81x'
KEY = "sk-ant-api03-" + "Qw7" * 10 + "-zz"


def test_json_escaped_and_percent_encoded_copies_are_hidden():
    scrub = Redactor.from_values({"ODD": ODD, "KEY": KEY})
    for form in (
        json.dumps(ODD)[1:-1],
        json.dumps(ODD, ensure_ascii=False)[1:-1],
        quote(ODD, safe=""),
        quote(ODD),
        quote_plus(ODD),
        re.sub("%..", lambda m: m.group().lower(), quote(ODD, safe="")),
        urlencode({"token": ODD}).split("=", 1)[1],
    ):
        assert form != ODD
        for text in (f"got {form} back", json.dumps({"log": f"url ?t={form}"})):
            out = scrub(text)
            assert form not in out and "[secret ODD]" in out, (form, out)
    assert scrub(json.dumps({"m": f"key={KEY}"})) == json.dumps({"m": "key=[secret KEY]"})


def test_keys_of_json_objects_are_redacted_too():
    scrub = Redactor.from_values({"KEY": KEY})
    assert scrub.deep({KEY: [KEY, 1, None]}) == {"[secret KEY]": ["[secret KEY]", 1, None]}


def test_too_short_plain_or_common_values_are_reported():
    assert "shorter than 8" in redact.weakness("4711")
    assert "number or a switch" in redact.weakness("12345678")
    for common in ("password", "changeme", "Summer2024", "aaaaaaaaaa", "abababab12"):
        assert "common" in redact.weakness(common), common
    for strong in (KEY, ODD, "hunter2-xyz", "ntn_" + "x" * 30 + "Ab1", "Yb8#kq!Tz0"):
        assert redact.weakness(strong) is None, strong
    assert redact.weak_secrets(
        {"A": "4711", "NAME": "Al", "B": KEY, "C": ""}, plain_keys={"NAME"}
    ) == [("A", redact.weakness("4711"))]


def test_validate_warns_about_a_secret_it_cannot_hide(tmp_path):
    agents = tmp_path / "agents"
    write_agent(
        agents,
        "alpha",
        env=f"ANTHROPIC_API_KEY={KEY}\nDB_PASS=hunter2\n"
        "SITE_PASSWORD=password\nASSISTANT_NAME=Al\n",
    )
    r = run_smbos("validate", "--agents", str(agents), cwd=tmp_path)
    assert r.code == 0, r.output
    lines = [line for line in r.output.splitlines() if line.startswith("warning:")]
    assert any(
        line.startswith("warning: agents/alpha/.env: DB_PASS: shorter than 8") for line in lines
    ), r.output
    assert any("SITE_PASSWORD: a common word" in line for line in lines), r.output
    assert not any("ANTHROPIC_API_KEY" in line or "ASSISTANT_NAME" in line for line in lines)
    assert "hunter2" not in r.output and "password\n" not in r.output


# ------------------------------------------------------------------ a stream's texts as one


def _run(scrub: Redactor, texts: list[str]) -> tuple[list[str], list[int]]:
    """Every text out, and how many were out after each push."""
    running = scrub.running()
    out, counts = [], []
    for text in texts:
        out += running.push(text)
        counts.append(len(out))
    out += running.flush()
    return out, counts


def test_a_secret_split_across_texts_is_hidden():
    scrub = Redactor.from_values({"KEY": KEY})
    out, counts = _run(scrub, ["your key is sk-ant-", KEY[7:20], KEY[20:] + " ok", "next"])
    assert out == ["your key is [secret KEY]", "", " ok", "next"]
    assert counts == [0, 0, 3, 4], "held while it could be a secret, then released at once"
    assert "".join(out).count("[secret KEY]") == 1


def test_texts_without_a_secret_pass_at_once():
    scrub = Redactor.from_values({"KEY": KEY})
    out, counts = _run(scrub, ["hello", "", "world."])
    assert out == ["hello", "", "world."] and counts == [1, 2, 3]
    out, counts = _run(scrub, ["ends with s", "k-nothing"])  # could have begun a secret
    assert out == ["ends with s", "k-nothing"] and counts == [0, 2]


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    before=st.text(max_size=20),
    after=st.text(max_size=20),
    cuts=st.lists(st.integers(0, 60), max_size=4),
    secret=st.sampled_from([KEY, ODD]),
    form=st.sampled_from(["raw", "json", "quote"]),
)
def test_no_split_of_a_secret_shows_it(before, after, cuts, secret, form):
    shown = {"raw": secret, "json": json.dumps(secret)[1:-1], "quote": quote(secret, safe="")}[form]
    text = before + shown + after
    bounds = sorted({min(c, len(text)) for c in cuts})
    texts = [text[a:b] for a, b in zip([0, *bounds], [*bounds, len(text)])]
    out, _ = _run(Redactor.from_values({"S": secret}), texts)
    assert len(out) == len(texts), "one text out for each text in"
    joined = "".join(out)
    assert shown not in joined and "[secret S]" in joined
    # No piece of the secret longer than a few characters survives.
    left = joined.replace("[secret S]", "\0")
    assert not any(shown[i : i + 6] in left for i in range(len(shown) - 5)), (texts, out)


def test_the_settings_page_says_which_secrets_it_cannot_hide(folders):  # noqa: F811
    from smbos.web.app import create_app

    from .test_web_api import AUTH, TOKEN, make_client

    with make_client(create_app(folders, TOKEN)) as client:
        for r in (
            client.get("/api/agents/alpha/env", headers=AUTH),
            client.put(
                "/api/agents/alpha/env", headers=AUTH, json={"values": {"ASSISTANT_NAME": "Al"}}
            ),
        ):
            assert r.status_code == 200, r.text
            warned = {line.split(":")[0]: line for line in r.json()["secret_warnings"]}
            assert "shorter than 8" in warned["DB_PASS"] and "DOOR_PIN" in warned
            assert not {
                "ANTHROPIC_API_KEY",
                "SHOP_DOMAIN",
                "TELEGRAM_ONLY",
                "ASSISTANT_NAME",
            } & set(warned), warned
            assert "hunter2" not in r.text and "4711" not in r.text
        assert 'id="env-warnings"' in client.get("/agents/alpha/settings").text
