"""docs/stats.md and docs/meta.md are generated from the code and cannot drift from it."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import meta_docs  # noqa: E402
import stats_docs  # noqa: E402


def test_every_stats_key_the_code_sets_is_in_the_reference_and_back() -> None:
    in_code = stats_docs.keys_in_code()
    assert "?" not in in_code, f"a stats key that is not a literal or f-string: {in_code['?']}"
    documented = {stats_docs.shape(key) for key in stats_docs.STATS}
    missing = {key: where for key, where in in_code.items() if key not in documented}
    assert not missing, f"add these to STATS in tools/stats_docs.py: {missing}"
    unused = documented - in_code.keys()
    assert not unused, f"no code sets these any more; remove them from STATS: {unused}"


def test_the_stats_scan_sees_f_strings_and_every_setter(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "m.py").write_text(
        "def f(stats, family, n):\n"
        '    stats.inc_value(f"tiktok/quota/requests/{family}")\n'
        '    stats.max_value("tiktok/x", n)\n'
        "    stats.set_value(name, 1)\n"
        '    stats.get_value("tiktok/read/only")\n'
    )
    found = stats_docs.keys_in_code(package)
    assert set(found) == {"tiktok/quota/requests/{}", "tiktok/x", "?"}


def test_stats_page_is_in_sync() -> None:
    page = (ROOT / "docs" / "stats.md").read_text(encoding="utf-8")
    assert page == stats_docs.markdown(), "docs/stats.md is stale: python tools/stats_docs.py"


def test_every_meta_key_has_a_constant_and_a_line_in_the_reference() -> None:
    constants, documented = meta_docs.constants(), meta_docs.documented()
    undocumented = constants.keys() - documented.keys()
    assert not undocumented, f"document these in the meta module's docstring: {undocumented}"
    scrapys = {key for key, (_, meaning) in documented.items() if "Scrapy's own" in meaning}
    assert documented.keys() - constants.keys() <= scrapys, "a documented key with no constant"


def test_meta_page_is_in_sync() -> None:
    page = (ROOT / "docs" / "meta.md").read_text(encoding="utf-8")
    assert page == meta_docs.markdown(), "docs/meta.md is stale: python tools/meta_docs.py"
