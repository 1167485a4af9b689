"""Graph export: GraphML and CSV that xml.etree (and networkx, when present) read back."""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from crawling import env_for_subprocess

from tiktok_scrapy.graph import GRAPHML_NS, GraphInputError, export

NS = {"g": GRAPHML_NS}
EDGES = [
    {"source": "ana", "target": "ben", "display_name": "Ben"},
    {"source": "ana", "target": "ben", "display_name": "Ben"},  # found from both ends
    {"source": "cem", "target": "ana", "display_name": "Cem"},
    {"source": "bad\u0000name", "target": "ana", "display_name": "x"},
]
USERS = [
    {
        "username": "ana",
        "display_name": "Ana <&> \u0000",
        "follower_count": 3_000_000_000,
        "is_verified": True,
        "video_count": 4,
    }
]


@pytest.fixture
def crawl_output(tmp_path):
    folder = tmp_path / "data" / "network" / "job1"
    folder.mkdir(parents=True)
    (folder / "follow_edges.jsonl").write_text("".join(json.dumps(e) + "\n" for e in EDGES))
    (folder / "users.jsonl").write_text("".join(json.dumps(u) + "\n" for u in USERS))
    return tmp_path / "data" / "network"


def test_graphml_parses_and_holds_nodes_edges_and_attributes(crawl_output, tmp_path):
    out = tmp_path / "graph.graphml"
    summary = export(crawl_output, out)
    assert "4 nodes (1 with user info), 3 edges" in summary
    root = ET.parse(out).getroot()
    graph = root.find("g:graph", NS)
    assert graph.get("edgedefault") == "directed"
    nodes = {n.get("id"): n for n in graph.findall("g:node", NS)}
    assert set(nodes) == {"ana", "ben", "cem", "badname"}
    data = {d.get("key"): d.text for d in nodes["ana"].findall("g:data", NS)}
    assert data == {
        "display_name": "Ana <&> ",
        "follower_count": "3000000000",
        "is_verified": "true",
        "video_count": "4",
    }
    edges = {(e.get("source"), e.get("target")) for e in graph.findall("g:edge", NS)}
    assert edges == {("ana", "ben"), ("cem", "ana"), ("badname", "ana")}
    if importlib.util.find_spec("networkx"):  # not a dependency; checked when present
        import networkx

        loaded = networkx.read_graphml(out)
        assert loaded.number_of_edges() == 3 and loaded.is_directed()


def test_csv_edges_and_nodes_via_the_command(crawl_output, tmp_path):
    command = [
        sys.executable,
        "-m",
        "scrapy",
        "export_graph",
        "--input",
        str(crawl_output),
        "-o",
        str(tmp_path / "edges.csv"),
    ]
    proc = subprocess.run(
        command,
        cwd=tmp_path,
        env=env_for_subprocess(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    with (tmp_path / "edges.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["Source"], r["Target"], r["Type"]) for r in rows] == [
        ("ana", "ben", "Directed"),
        ("cem", "ana", "Directed"),
        ("badname", "ana", "Directed"),
    ]
    with (tmp_path / "nodes.csv").open() as handle:
        nodes = {r["Id"]: r for r in csv.DictReader(handle)}
    assert nodes["ana"]["follower_count"] == "3000000000" and nodes["ben"]["Label"] == "ben"


def test_missing_input_is_a_clear_error(tmp_path):
    with pytest.raises(GraphInputError, match=r"no follow_edges\.jsonl"):
        export(tmp_path, tmp_path / "g.graphml")
    with pytest.raises(GraphInputError, match="graphml or"):
        export(tmp_path, tmp_path / "g.gexf")
