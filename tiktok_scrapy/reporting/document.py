"""A tiny document model rendered twice: HTML (report.html) and Markdown (methods.md).

A report is a list of sections; a section holds blocks: a paragraph, a table, a
preformatted text (query JSON), or a chart (HTML only; Markdown says where to find it).
Plain Python, no Scrapy: the report's content is built once and printed two ways.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Paragraph:
    text: str
    css: str = ""


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Any]]
    note: str = ""


@dataclass
class Pre:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Chart:
    svg: str
    caption: str


Block = Paragraph | Table | Pre | Chart | Bullets


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)
    anchor: str = ""


STYLE = """
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;padding:1em;max-width:62em;color:#1d2329}
h1{font-size:1.5em;overflow-wrap:anywhere}h2{font-size:1.2em;margin-top:1.6em;
border-bottom:1px solid #d5dbe1}
table{border-collapse:collapse;width:100%;margin:.5em 0;table-layout:auto}
th,td{border-bottom:1px solid #e3e7eb;padding:.25em .5em;text-align:left;vertical-align:top;
overflow-wrap:break-word}
.scroll{overflow-x:auto;max-width:100%}
code{overflow-wrap:anywhere;word-break:break-all}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f4f6f8;padding:.6em;white-space:pre-wrap;overflow-wrap:anywhere;font-size:13px}
svg{display:block;max-width:100%;height:auto;background:#fbfcfd}
svg text{fill:#333}svg .title{font-weight:600}svg .grid{stroke:#e3e7eb}
svg .axis{stroke:#555}
.verdict{font-size:1.25em;padding:.6em .8em;border-radius:4px;margin:.8em 0}
.verdict.complete{background:#e3f4e6;border:2px solid #2e7d32}
.verdict.incomplete{background:#fdeaea;border:2px solid #c0392b}
.verdict.unknown{background:#fff6e0;border:2px solid #b7791f}
.alert{background:#fdeaea;border-left:4px solid #c0392b;padding:.5em .8em}
.warn{background:#fff6e0;border-left:4px solid #b7791f;padding:.5em .8em}
.good{background:#e3f4e6;border-left:4px solid #2e7d32;padding:.5em .8em}
.note,.legend,.empty,figcaption{color:#59636e;font-size:.92em}
figure{margin:.5em 0}
"""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _cell_text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def render_html(title: str, head: list[Block], sections: list[Section], footer: str) -> str:
    body = [f"<h1>{html.escape(title)}</h1>", *(_html_block(b) for b in head)]
    if len(sections) > 3:
        links = " · ".join(
            f"<a href='#{s.anchor}'>{html.escape(s.title)}</a>" for s in sections if s.anchor
        )
        body.append(f"<p class='note'>{links}</p>")
    for section in sections:
        anchor = f" id='{section.anchor}'" if section.anchor else ""
        body.append(f"<h2{anchor}>{html.escape(section.title)}</h2>")
        body.extend(_html_block(b) for b in section.blocks)
    body.append(f"<p class='note'>{html.escape(footer)}</p>")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )


def _html_block(block: Block) -> str:
    if isinstance(block, Paragraph):
        css = f" class='{block.css}'" if block.css else ""
        return f"<p{css}>{_inline_html(block.text)}</p>"
    if isinstance(block, Pre):
        return f"<pre>{html.escape(block.text)}</pre>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Chart):
        return f"<figure>{block.svg}<figcaption>{html.escape(block.caption)}</figcaption></figure>"
    numeric = [
        bool(block.rows) and all(_is_number(r[i]) or r[i] is None for r in block.rows)
        for i in range(len(block.headers))
    ]
    head = "".join(
        f"<th{' class=n' if numeric[i] else ''}>{html.escape(h)}</th>"
        for i, h in enumerate(block.headers)
    )
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=n' if numeric[i] else ''}>{html.escape(_cell_text(v))}</td>"
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in block.rows
    )
    note = f"<p class='note'>{_inline_html(block.note)}</p>" if block.note else ""
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    return f"<div class='scroll'>{table}</div>{note}"


def _inline_html(text: str) -> str:
    """Escaped text with `code` and **bold** spans (the Markdown subset the report uses)."""
    out, code, bold = [], False, False
    parts = html.escape(text).replace("**", "\x00").split("`")
    for i, part in enumerate(parts):
        if i:
            code = not code
            out.append("<code>" if code else "</code>")
        pieces = part.split("\x00")
        for j, piece in enumerate(pieces):
            if j:
                bold = not bold
                out.append("<strong>" if bold else "</strong>")
            out.append(piece)
    return "".join(out)


def render_markdown(title: str, head: list[Block], sections: list[Section], footer: str) -> str:
    lines = [f"# {title}", ""]
    for block in head:
        lines += _md_block(block)
    for section in sections:
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            lines += _md_block(block)
    lines += [f"_{footer}_", ""]
    return "\n".join(lines)


def _md_cell(value: Any) -> str:
    return _cell_text(value).replace("|", "\\|").replace("\n", " ")


def _md_block(block: Block) -> list[str]:
    if isinstance(block, Paragraph):
        return [block.text, ""]
    if isinstance(block, Pre):
        return ["```json", block.text, "```", ""]
    if isinstance(block, Bullets):
        return [*(f"- {item}" for item in block.items), ""]
    if isinstance(block, Chart):
        return [f"_Chart in report.html: {block.caption}_", ""]
    lines = [
        "| " + " | ".join(_md_cell(h) for h in block.headers) + " |",
        "|" + "|".join("---:" if _is_number(c) else "---" for c in _first_row(block)) + "|",
    ]
    lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in block.rows]
    if block.note:
        lines += ["", block.note]
    return [*lines, ""]


def _first_row(block: Table) -> list[Any]:
    return block.rows[0] if block.rows else [""] * len(block.headers)
