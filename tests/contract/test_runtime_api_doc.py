"""docs/runtime-api.md is where the code says it is: every citation of a section of it names a
section that exists, and the fixture of the fork's answers agrees with what the page says."""

from __future__ import annotations

import re

from ..conftest import ROOT
from ..fakeruntime import FORK

DOC = ROOT / "docs" / "runtime-api.md"
CITATION = re.compile(r"(?:docs/runtime-api\.md|runtime contract),?\s+sections?\s+(\d+(?:\.\d+)?)")


def _sections() -> set[str]:
    return set(
        re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", DOC.read_text(encoding="utf-8"), re.MULTILINE)
    )


def test_every_citation_names_a_section_of_the_page():
    sections = _sections()
    assert {"1", "1.5", "2", "4"} <= sections, sorted(sections)
    cited = 0
    for path in sorted(
        [
            *(ROOT / "smbos").rglob("*.py"),
            *(ROOT / "smbos").rglob("*.mjs"),
            *(ROOT / "tests").rglob("*.py"),
        ]
    ):
        text = path.read_text(encoding="utf-8")
        for number in CITATION.findall(text):
            cited += 1
            assert number in sections, (
                f"{path.relative_to(ROOT)} cites section {number} of "
                f"docs/runtime-api.md, which has {sorted(sections)}"
            )
    assert cited >= 4, "the runtime modules cite the page"


def test_the_page_states_what_the_fixture_holds():
    text = DOC.read_text(encoding="utf-8")
    for refusal in {r["error"] for r in FORK["chat_refusals"]}:
        assert f'{{"error":"{refusal}"}}' in text
    for kind in (FORK["user_message"], FORK["reply_message"]):
        assert f"`{kind['sender']}`" in text and f"`{kind['id_prefix']}<ms>`" in text
    assert "404 with no body and no `Content-Type`" in text
    assert f"absent, `{FORK['messages_default_limit']}`" in text
