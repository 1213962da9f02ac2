"""A minimal, safe Markdown renderer for the identity text of an agent (`agent.md`'s body).

Every character of the input is HTML-escaped first; the renderer then only adds its own tags:
headings, paragraphs, bullet and numbered lists, fenced code blocks, block quotes, `inline code`,
**bold** and *italic*. Links and raw HTML are shown as text, so nothing in a file can run script
or load anything in the operator's browser.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d{1,3}[.)]\s+(.*)$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _inline(text: str) -> str:
    out = []
    # Split on code spans first: nothing inside them is formatted.
    for index, part in enumerate(re.split(r"(`[^`]+`)", text)):
        if index % 2 == 1:
            out.append(f"<code>{escape(part[1:-1])}</code>")
            continue
        html = str(escape(part))
        html = re.sub(r"\*\*(\S(?:.*?\S)?)\*\*", r"<strong>\1</strong>", html)
        html = re.sub(r"(?<![\w*])\*(\S(?:.*?\S)?)\*(?![\w*])", r"<em>\1</em>", html)
        out.append(html)
    return "".join(out)


def render(text: str) -> Markup:
    """`text` (Markdown) as safe HTML."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    html: list[str] = []
    paragraph: list[str] = []
    list_kind: str | None = None
    index = 0

    def flush_paragraph() -> None:
        if paragraph:
            html.append("<p>" + "<br>".join(_inline(line) for line in paragraph) + "</p>")
            paragraph.clear()

    def close_list() -> None:
        nonlocal list_kind
        if list_kind:
            html.append(f"</{list_kind}>")
            list_kind = None

    while index < len(lines):
        line = lines[index]
        fence = _FENCE.match(line)
        if fence:
            flush_paragraph()
            close_list()
            block = []
            index += 1
            while index < len(lines) and not lines[index].strip().startswith(fence.group(1)):
                block.append(lines[index])
                index += 1
            html.append(f"<pre><code>{escape(chr(10).join(block))}</code></pre>")
            index += 1
            continue
        if not line.strip():
            flush_paragraph()
            close_list()
            index += 1
            continue
        heading = _HEADING.match(line)
        if heading:
            flush_paragraph()
            close_list()
            level = len(heading.group(1))
            html.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
            index += 1
            continue
        bullet = _BULLET.match(line)
        numbered = None if bullet else _NUMBERED.match(line)
        item = bullet or numbered
        if item:
            flush_paragraph()
            kind = "ul" if bullet else "ol"
            if list_kind != kind:
                close_list()
                html.append(f"<{kind}>")
                list_kind = kind
            html.append(f"<li>{_inline(item.group(1))}</li>")
            index += 1
            continue
        if line.lstrip().startswith(">"):
            flush_paragraph()
            close_list()
            html.append(f"<blockquote>{_inline(line.lstrip()[1:].strip())}</blockquote>")
            index += 1
            continue
        close_list()
        paragraph.append(line.strip())
        index += 1
    flush_paragraph()
    close_list()
    return Markup("\n".join(html))
