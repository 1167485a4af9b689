"""Project signals (sent with ``crawler.signals.send_catch_log``).

``page_recorded(record: dict)``: one per API response (data pages, errors, user-level
outcomes), the page record described in ``tiktok_scrapy.spiders.base``. The JSONL page log
and the MongoDB pipeline listen to it; page records are not items, so ``-O videos.jsonl``
receives videos only.
"""

page_recorded = object()
