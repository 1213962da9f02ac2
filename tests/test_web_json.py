"""The UI's JSON request bodies: one strict reading for every route (smbos/web/body.py).

Whatever a client sends, the answer is never a 500 or a traceback: a body nested too deeply, a
number JSON cannot carry (`NaN`, `Infinity`, `1e999`, a 5000-digit integer), a lone surrogate
(not text: it cannot be written to `.env` nor sent on) is a 400 that names the field. In this
process, on fakes (tests/fakefleet.py); the fuzz test drives every route that takes a body."""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smbos import envfile
from smbos.web.app import create_app
from smbos.web.body import MAX_JSON_DEPTH, parse_json

from .test_web_api import AUTH, TOKEN, make_client
from .test_web_runtime import SECRETS, fleet  # noqa: F401 - the fleet fixture

JSON_HEADERS = {**AUTH, "Content-Type": "application/json"}


@pytest.fixture
def client(fleet):  # noqa: F811
    app = create_app(fleet.project, TOKEN, transport=fleet.transport(), docker_client=fleet.docker)
    with make_client(app) as c:
        c.fleet = fleet
        yield c


def _deep(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


BAD = [
    # (body, the field the answer names, what it says)
    ('{"values": {"ANTHROPIC_BASE_URL": NaN}}', "values.ANTHROPIC_BASE_URL", "NaN"),
    ('{"values": {"K": Infinity}}', "values.K", "Infinity"),
    ('{"values": {"K": -Infinity}}', "values.K", "-Infinity"),
    ('{"values": {"K": 1e999}}', "values.K", "1e999"),
    ('{"values": {"K": -1E+400}}', "values.K", "-1E+400"),
    ('{"values": {"K": ' + "9" * 5000 + "}}", "values.K", "too large"),
    ('{"values": {"K": "a\\ud800b"}}', "values.K", "surrogate"),
    ('{"values": {"\\udfff": "x"}}', "values", "surrogate"),
    ('{"values": [1, 2, "\\udc00"]}', "values[2]", "surrogate"),
    ('{"values": ' + _deep(100_000) + "}", "values" + "[0]" * (MAX_JSON_DEPTH - 1), "deeper"),
    ('{"values": {"a": ' + _deep(MAX_JSON_DEPTH) + "}}", "values.a", "deeper"),
    ('{"values": {"a b": ' + _deep(500, '{"x": 1}') + "}}", 'values["a b"]', "deeper"),
    (_deep(5000), "body" + "[0]" * MAX_JSON_DEPTH, "deeper"),
    (
        '{"values": ' + _deep(MAX_JSON_DEPTH + 5) + "}",
        "values" + "[0]" * (MAX_JSON_DEPTH - 1),
        "deeper",
    ),
]


@pytest.mark.parametrize("body,field,what", BAD, ids=[b[2] + str(i) for i, b in enumerate(BAD)])
def test_bad_json_is_400_naming_the_field(client, body, field, what):
    env_before = (client.fleet.project.agents_dir / "alpha" / ".env").read_bytes()
    for method, path in (
        ("PUT", "/api/agents/alpha/env"),
        ("POST", "/api/agents/alpha/chat"),
        ("POST", "/api/agents/alpha/skills/brief"),
        ("POST", "/agents/alpha/api/chat"),
    ):
        r = client.request(method, path, headers=JSON_HEADERS, content=body.encode())
        assert r.status_code == 400, (path, r.status_code, r.text[:300])
        error = r.json()["error"]
        assert r.json()["kind"] == "bad_request"
        assert error.startswith(field), (path, field, error[:200])
        assert what in error, (path, error[:200])
        assert len(error) < 400 and "\n" not in error
    assert (client.fleet.project.agents_dir / "alpha" / ".env").read_bytes() == env_before
    assert not [r for r in client.fleet.runtimes.values() if r.messages], (
        "nothing reached a runtime"
    )


def test_nesting_up_to_the_limit_is_read():
    assert parse_json(_deep(MAX_JSON_DEPTH - 1).encode()) is not None
    assert parse_json(b'{"a": 1.5, "b": -0.0, "c": 1e308, "d": "\\ud83d\\ude00"}') == {
        "a": 1.5,
        "b": -0.0,
        "c": 1e308,
        "d": "\U0001f600",
    }


def test_not_utf8_and_not_json(client):
    for body in (b"\xff\xfe{}", b'{"message": "caf\xe9"}', b"{not json", b"\xef\xbb\xbf{}"):
        r = client.post("/api/agents/alpha/chat", headers=JSON_HEADERS, content=body)
        assert r.status_code == 400 and r.json()["error"].startswith("request body is not JSON"), (
            body,
            r.text,
        )


def test_good_values_still_work(client):
    r = client.put(
        "/api/agents/alpha/env",
        headers=AUTH,
        json={"values": {"ASSISTANT_NAME": "Al\u00e9 \U0001f600", "COUNT": 3}},
    )
    assert r.status_code == 200, r.text
    values = envfile.read_env(client.fleet.project.agents_dir / "alpha" / ".env")
    assert values["ASSISTANT_NAME"] == "Al\u00e9 \U0001f600" and values["COUNT"] == "3"


# ------------------------------------------------------------------------------ the fuzz


ROUTES = [
    ("PUT", "/api/agents/alpha/env"),
    ("POST", "/api/agents/alpha/chat"),
    ("POST", "/api/agents/alpha/skills/brief"),
    ("POST", "/api/agents/alpha/skills/grid"),
    ("POST", "/agents/alpha/api/chat"),
    ("POST", "/api/agents/alpha/tasks/daily/pause"),
    ("POST", "/api/agents/beta/restart"),
    ("POST", "/api/session"),
]
FIELDS = [
    "values",
    "message",
    "topic",
    "count",
    "day",
    "tone",
    "notes",
    "ASSISTANT_NAME",
    "ANTHROPIC_API_KEY",
    "K",
    "",
]
_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
_numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
)
_leaves = st.one_of(st.none(), st.booleans(), _numbers, _text, st.sampled_from(FIELDS))
_values = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELDS), _text), inner, max_size=4),
    ),
    max_leaves=12,
)


@st.composite
def bodies(draw) -> bytes:
    """JSON-ish bytes: the shape the routes expect with wrong types and odd values in it,
    deep nesting, numbers JSON has no room for, lone surrogates, and plain garbage."""
    kind = draw(st.sampled_from(["shaped", "any", "deep", "literal", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=40))
    if kind == "deep":
        depth = draw(st.integers(1, 3000))
        inner = draw(st.sampled_from(["1", '"x"', "NaN", "{}", '{"values": 1}']))
        opener, closer = draw(
            st.sampled_from([("[", "]"), ('{"values": ', "}"), ('{"a": [', "]}")])
        )
        return (opener * depth + inner + closer * depth).encode()
    if kind == "literal":
        literal = draw(
            st.sampled_from(
                [
                    "NaN",
                    "Infinity",
                    "-Infinity",
                    "1e999",
                    "-1e999",
                    "9" * 5000,
                    '"\\ud800"',
                    '"\\udfff\\ud800"',
                    "1E400",
                    "0.0000001e-999",
                    "[]",
                    "null",
                    "true",
                    '""',
                ]
            )
        )
        field = draw(st.sampled_from(FIELDS))
        where = draw(
            st.sampled_from(
                [
                    '{{"{f}": {v}}}',
                    '{{"values": {{"{f}": {v}}}}}',
                    '{{"message": "hi", "values": [{v}]}}',
                    "{v}",
                ]
            )
        )
        return where.format(f=field, v=literal).encode()
    data = (
        draw(_values)
        if kind == "any"
        else draw(
            st.dictionaries(
                st.sampled_from(FIELDS),
                st.one_of(_values, st.dictionaries(st.sampled_from(FIELDS), _leaves, max_size=4)),
                max_size=3,
            )
        )
    )
    text = json.dumps(data, ensure_ascii=draw(st.booleans()), allow_nan=True)
    return text.encode("utf-8", "surrogatepass")


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    route=st.sampled_from(ROUTES),
    body=bodies(),
    content_type=st.sampled_from(["application/json", "text/plain", None]),
)
def test_fuzzed_bodies_never_answer_500(client, route, body, content_type):
    method, path = route
    headers = dict(AUTH)
    if content_type:
        headers["Content-Type"] = content_type
    r = client.request(method, path, headers=headers, content=body)
    assert r.status_code < 500 or r.status_code == 502 and path.startswith("/agents/"), (
        method,
        path,
        body[:200],
        r.status_code,
        r.text[:300],
    )
    assert "Traceback" not in r.text and "internal error" not in r.text, r.text[:300]
    relayed = r.headers["content-security-policy"].startswith("sandbox")  # a runtime's answer
    if (
        r.headers.get("content-type", "").startswith("application/json")
        and r.status_code >= 400
        and not relayed
    ):
        assert set(r.json()) == {"error", "kind"}, r.text[:300]
        assert "\n" not in r.json()["error"]
    for secret in SECRETS.values():
        assert secret not in r.text


def test_the_fuzzed_alphabet_is_not_trivial():
    """The strategy reaches what the fixes are about (a guard against a strategy that drifts)."""
    seen = set()

    @settings(max_examples=80, derandomize=True, deadline=None)
    @given(body=bodies())
    def collect(body):
        for mark in (b"NaN", b"Infinity", b"\\ud8", b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", b"e999"):
            if mark in body:
                seen.add(mark)
        if any(c not in string.printable.encode() for c in body):
            seen.add(b"binary")

    collect()
    assert len(seen) >= 5, seen
