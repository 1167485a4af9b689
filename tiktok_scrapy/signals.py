"""Project signals (sent with ``crawler.signals.send_catch_log``).

``page_recorded(record: dict)``: one per API response (data pages, errors, user-level
outcomes), the page record described in ``tiktok_scrapy.spiders.base``. The JSONL page log
and the MongoDB pipeline listen to it; page records are not items, so ``-O videos.jsonl``
receives videos only.

``page_items(items: list)``: the items one page produced, sent once per page as the spider
hands them on. For per-page bookkeeping (the crawl report): one dispatch per page instead of
an ``item_scraped`` receiver, which Scrapy runs as a task per item.
"""

page_recorded = object()
page_items = object()
