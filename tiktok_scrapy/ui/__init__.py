"""The local web app (``scrapy ui``): a query builder, crawls, reports, exports and quota.

Plain-Python parts (``forms``, ``jobs``, ``progress``, ``csvexport``, ``quota``) are testable
without a server; ``app`` binds them to Starlette routes and Jinja2 templates, ``security``
holds the token, CSRF and header rules. docs/ui.md says how it is used and why this stack.
"""
