"""What a spider crawls and which config keys it takes, for ``crawl -h`` and ``scrapy list``.

Keys, types and defaults come from the spider's config model (``config.SPIDER_CONFIGS``);
their meanings from docs/configuration.md when the project's docs are beside the package
(a checkout), so the reference has one source. A spider's one-line description is the
first line of its class docstring, else of its module's.
"""

from __future__ import annotations

import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

from tiktok_scrapy.config import SPIDER_CONFIGS

CONFIG_DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
ROW = re.compile(r"^\| `([a-z_]+)` \|[^|]*\|[^|]*\| (.*) \|$")


def describe(spidercls: type) -> str:
    """One line: what the spider crawls."""
    name = getattr(spidercls, "name", "")
    for klass in spidercls.__mro__:
        if klass.__name__ in ("InputSpider", "ResearchApiSpider", "Spider"):
            break
        doc = klass.__dict__.get("__doc__")
        if doc and doc.strip():
            line = doc.strip().splitlines()[0].rstrip(".").removeprefix(f"{name}: ")
            line = line.replace("``", "")
            if klass is not spidercls:  # a family's description: say which member
                line += f" ({name.replace('_', ' ')})"
            return line
    module = sys.modules.get(spidercls.__module__)
    doc = getattr(module, "__doc__", None) or ""
    if doc.startswith(f"{name}:"):
        return doc.strip().splitlines()[0].rstrip(".").removeprefix(f"{name}: ").replace("``", "")
    return f"the {getattr(spidercls, 'endpoint_name', name)} endpoint"


def _meanings(spider: str) -> dict[str, str]:
    """key -> meaning from the sections of docs/configuration.md that apply to ``spider``."""
    if not CONFIG_DOC.exists():
        return {}
    meanings: dict[str, str] = {}
    applies = False
    for line in CONFIG_DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            named = re.findall(r"`([a-z_]+)`", line)
            applies = "common to every spider" in line or spider in named
            continue
        if applies and (match := ROW.match(line)):
            meanings.setdefault(match.group(1), re.sub(r"`", "", match.group(2)))
    return meanings


def _type_text(annotation: Any) -> str:
    """A short type name for people: text, whole number, list, path, date, ..."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin is typing.Annotated or (args and origin in (typing.Union, types.UnionType)):
        return _type_text(args[0]) if args else "value"
    if origin in (list, tuple, set):
        return "list"
    names = {int: "whole number", float: "number", str: "text", bool: "true/false"}
    if annotation in names:
        return names[annotation]
    return {"Path": "path", "date": "date", "dict": "object"}.get(
        getattr(annotation, "__name__", ""), "value"
    )


def config_keys(spider: str) -> list[tuple[str, str, str]]:
    """(key, default, meaning) for every key ``spider``'s config takes."""
    model = SPIDER_CONFIGS.get(spider)
    if model is None:
        return []
    meanings = _meanings(spider)
    rows = []
    for name, field in model.model_fields.items():
        if name == "warnings":
            continue
        if field.is_required():
            default = "required"
        elif field.default_factory is not None:
            default = repr(field.default_factory())
        else:
            default = repr(field.default) if field.default is not None else "none"
        meaning = meanings.get(name) or _type_text(field.annotation)
        rows.append((name, default, meaning))
    return rows


def config_help(spider: str) -> str:
    rows = config_keys(spider)
    if not rows:
        return ""
    width = max(len(k) for k, _, _ in rows)
    lines = [
        f"Config keys of the {spider} spider (in -a config=FILE|JSON|example, or one by one "
        "as -a key=value; docs/configuration.md):"
    ]
    for key, default, meaning in rows:
        lines.append(f"  {key:<{width}}  {meaning} [default: {default}]")
    return "\n".join(lines)
