"""JsonLinesExporter: Scrapy's JSON Lines exporter without the per-field walk for dict items.

Scrapy's exporter wraps each item in an ``ItemAdapter`` and looks up a serializer for every
field, to honour declared ``Field(serializer=...)`` metadata. Our items are plain ``dict``
subclasses with no field metadata, so that walk returns the item unchanged — and cost about
a fifth of the crawl's CPU time per video (see docs/benchmarks.md). For a dict item with no
``FEED_EXPORT_FIELDS`` the line is encoded straight from the item: the same bytes, same
encoder and options. Anything else takes Scrapy's path. Registered for ``jsonlines``,
``jsonl`` and ``jl`` in ``FEED_EXPORTERS``.
"""

from __future__ import annotations

from typing import Any

from scrapy.exporters import JsonLinesItemExporter


class JsonLinesExporter(JsonLinesItemExporter):
    def export_item(self, item: Any) -> None:
        if self.fields_to_export is not None or not isinstance(item, dict):
            super().export_item(item)
            return
        line = self.encoder.encode(item) + "\n"
        self.file.write(line.encode(self.encoding or "utf-8"))
