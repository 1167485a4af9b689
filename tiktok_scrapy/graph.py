"""A crawled follow network as GraphML or CSV edge/node lists (for Gephi, networkx, R).

Reads ``follow_edges.jsonl`` (source follows target) and, when present, ``users.jsonl``
from a crawl's output folder (searched recursively) or a given edges file, de-duplicates
the edges and attaches the user info of each node as attributes. GraphML is written with
the stdlib ``xml`` module; characters XML cannot hold (NUL and other control bytes, which
TikTok strings do contain) are dropped. No Scrapy imports.
"""

from __future__ import annotations

import csv
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GRAPHML_NS = "http://graphml.graphdrawing.org/xmlns"
EDGES_FILE = "follow_edges.jsonl"
USERS_FILE = "users.jsonl"
# Node attributes taken from user info: name -> GraphML type.
NODE_ATTRIBUTES: dict[str, str] = {
    "display_name": "string",
    "follower_count": "long",
    "following_count": "long",
    "likes_count": "long",
    "video_count": "long",
    "is_verified": "boolean",
    "bio_description": "string",
    "bio_url": "string",
    "avatar_url": "string",
}
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class GraphInputError(ValueError):
    """The input holds no follow edges; the message says where it looked."""


@dataclass
class Graph:
    """Directed follow graph: nodes (username -> attributes) and (source, target) edges."""

    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)


def _jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise GraphInputError(f"{path}:{number}: not a JSON line") from None
            if isinstance(row, dict):
                yield row


def input_files(path: Path) -> tuple[list[Path], list[Path]]:
    """``(edge files, user files)`` of a crawl output folder or an edges JSONL file."""
    if path.is_file():
        users = path.parent / USERS_FILE
        return [path], [users] if users.is_file() else []
    if path.is_dir():
        return sorted(path.rglob(EDGES_FILE)), sorted(path.rglob(USERS_FILE))
    raise GraphInputError(
        f"{path}: no such file or folder — give a network crawl's output folder or its {EDGES_FILE}"
    )


def load_graph(path: Path) -> Graph:
    """The graph of a crawl's output (edges de-duplicated, user info as node attributes)."""
    edge_files, user_files = input_files(path)
    if not edge_files:
        raise GraphInputError(
            f"{path}: no {EDGES_FILE} here — run `scrapy crawl network` "
            f"(or followers/following) first"
        )
    graph = Graph()
    seen: set[tuple[str, str]] = set()
    for file in edge_files:
        for row in _jsonl(file):
            source, target = row.get("source"), row.get("target")
            if not source or not target or (source, target) in seen:
                continue
            seen.add((source, target))
            graph.edges.append((source, target))
            graph.nodes.setdefault(source, {})
            graph.nodes.setdefault(target, {})
    for file in user_files:
        for row in _jsonl(file):
            username = row.get("username")
            if username:
                attributes = graph.nodes.setdefault(username, {})
                attributes.update({k: row[k] for k in NODE_ATTRIBUTES if row.get(k) is not None})
    return graph


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def write_graphml(graph: Graph, path: Path) -> None:
    """GraphML with one ``<key>`` per node attribute; networkx and Gephi read it."""
    ET.register_namespace("", GRAPHML_NS)
    root = ET.Element(f"{{{GRAPHML_NS}}}graphml")
    for name, kind in NODE_ATTRIBUTES.items():
        ET.SubElement(
            root,
            f"{{{GRAPHML_NS}}}key",
            id=name,
            attrib={"for": "node", "attr.name": name, "attr.type": kind},
        )
    element = ET.SubElement(root, f"{{{GRAPHML_NS}}}graph", id="follows", edgedefault="directed")
    for username in sorted(graph.nodes):
        node = ET.SubElement(element, f"{{{GRAPHML_NS}}}node", id=_text(username))
        for name, value in graph.nodes[username].items():
            data = ET.SubElement(node, f"{{{GRAPHML_NS}}}data", key=name)
            data.text = _text(value)
    for number, (source, target) in enumerate(graph.edges):
        ET.SubElement(
            element,
            f"{{{GRAPHML_NS}}}edge",
            id=f"e{number}",
            source=_text(source),
            target=_text(target),
        )
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def nodes_path_for(edges_path: Path) -> Path:
    """The node list next to an edge list: edges.csv -> nodes.csv, x.csv -> x_nodes.csv."""
    stem = edges_path.stem
    name = "nodes.csv" if stem == "edges" else f"{stem}_nodes.csv"
    return edges_path.with_name(name)


def write_csv(graph: Graph, edges_path: Path) -> Path:
    """Gephi's spreadsheet format: ``Source,Target,Type`` edges and ``Id,Label,...`` nodes."""
    edges_path.parent.mkdir(parents=True, exist_ok=True)
    with edges_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Source", "Target", "Type"])
        writer.writerows([_text(s), _text(t), "Directed"] for s, t in graph.edges)
    nodes_path = nodes_path_for(edges_path)
    with nodes_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Id", "Label", *NODE_ATTRIBUTES])
        for username in sorted(graph.nodes):
            attributes = graph.nodes[username]
            label = attributes.get("display_name") or username
            writer.writerow(
                [
                    _text(username),
                    _text(label),
                    *(_text(attributes.get(k, "")) for k in NODE_ATTRIBUTES),
                ]
            )
    return nodes_path


def export(input_path: Path, output: Path) -> str:
    """Write ``output`` (.graphml or .csv) from ``input_path``; a one-line summary."""
    suffix = output.suffix.lower()
    if suffix not in (".graphml", ".csv"):
        raise GraphInputError(f"{output}: unknown format — name the output *.graphml or *.csv")
    graph = load_graph(input_path)
    if suffix == ".graphml":
        write_graphml(graph, output)
        written = str(output)
    else:
        written = f"{output} and {write_csv(graph, output)}"
    with_info = sum(1 for attributes in graph.nodes.values() if attributes)
    return (
        f"{len(graph.nodes)} nodes ({with_info} with user info), {len(graph.edges)} edges "
        f"-> {written}"
    )
