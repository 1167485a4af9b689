"""Request.meta keys this project sets and reads (lower-case, like Scrapy's own).

- ``tiktok_chain`` (str): id of the chain (one paginated sequence) the request belongs to.
- ``tiktok_endpoint`` (str): name of the endpoint in ``api.endpoints.ENDPOINTS``.
- ``tiktok_page`` (int): 0-based page number within the chain.
- ``tiktok_epoch`` (int): how often the chain restarted from its first page (dead search_id).
- ``tiktok_claim`` (str): the chain gate's claim: which request may fetch a chain's next page.
- ``tiktok_counted`` (bool): the gate counted the request as sent (undone if a later
  middleware refuses it).
- ``tiktok_token_request`` (bool): the client-credentials token request itself; quota,
  retry and token middlewares leave it alone.
- ``tiktok_auth_retried`` (bool): already resent once after a 401.
- ``tiktok_retry_times`` (int): error-aware retries done so far.
- ``tiktok_search_id_retries`` (int): retries of an "invalid or expired" search_id.
- ``tiktok_outcome`` (str): classification the retry middleware gave a final response
  (see ``api.errors.Outcome``), read by the spider to record the page. The full
  ``Classified`` is not kept in meta: ``api.errors.classification(response)`` remembers it
  per response object.
- ``tiktok_quota_reserved`` (str): quota family a request was charged to.
- ``tiktok_cut_on_500`` (bool): a 500 to this request means "too big": no retry, the spider
  cuts the chain (an adaptive wide window's first page).
- ``tiktok_not_before`` (float): the scheduler holds the request until this ``time.time()``
  (retry backoff, outage pauses) instead of a download slot waiting.
- ``tiktok_outage_probe`` (bool): the outage breaker's probe (the one request sent to see
  whether the API is back); its answer is reported to the breaker.
- ``dont_retry``: Scrapy's own; honoured by our retry middleware.

``tiktok_counted``, ``tiktok_quota_reserved``, ``tiktok_outcome``, ``tiktok_outage_probe`` and
``tiktok_not_before`` describe one attempt: ``middlewares.resend.resend`` drops them from a
copy it sends again (``resend.PER_ATTEMPT_META``).
"""

CHAIN = "tiktok_chain"
ENDPOINT = "tiktok_endpoint"
PAGE = "tiktok_page"
EPOCH = "tiktok_epoch"
CLAIM = "tiktok_claim"
COUNTED = "tiktok_counted"
TOKEN_REQUEST = "tiktok_token_request"
AUTH_RETRIED = "tiktok_auth_retried"
RETRY_TIMES = "tiktok_retry_times"
SEARCH_ID_RETRIES = "tiktok_search_id_retries"
OUTCOME = "tiktok_outcome"
QUOTA_RESERVED = "tiktok_quota_reserved"
CUT_ON_500 = "tiktok_cut_on_500"
NOT_BEFORE = "tiktok_not_before"
OUTAGE_PROBE = "tiktok_outage_probe"
