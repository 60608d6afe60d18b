"""A minimal client of ``clinalign serve`` (Python standard library only).

Used by :mod:`clinalign.rewards` in server mode and by the trainer recipes in examples/.
The server's address comes from $CLINALIGN_URL (default http://127.0.0.1:8077) and its
bearer token, if it has one, from $CLINALIGN_TOKEN.
"""

import json
import os
import time
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8077"


class ClinAlignError(RuntimeError):
    """The server refused a request (the message names the field and row)."""


def base_url():
    return os.environ.get("CLINALIGN_URL", DEFAULT_URL).rstrip("/")


def post(path, body, url=None, timeout=300.0, retries=5):
    """POSTs JSON and returns the decoded reply. 429/503 (server full) and connection errors
    are retried with backoff, honouring Retry-After; other errors raise ClinAlignError: a
    failed sample must never be scored as 0."""
    data = json.dumps(body).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    token = os.environ.get("CLINALIGN_TOKEN")
    if token:
        headers["Authorization"] = "Bearer " + token
    delay = 0.5
    for attempt in range(retries + 1):
        req = urllib.request.Request((url or base_url()) + path, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace")
            if e.code in (408, 429, 502, 503, 504) and attempt < retries:
                time.sleep(float(e.headers.get("Retry-After") or delay))
                delay *= 2
                continue
            try:
                message = json.loads(text)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = text
            raise ClinAlignError("%s %s: HTTP %d: %s" % ("POST", path, e.code, message)) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if attempt >= retries:
                raise
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


def rewards(samples, url=None):
    """One reward (0..1) per {conversation, response, rubric?} sample, via /v1/reward."""
    return post("/v1/reward", {"samples": samples}, url=url)["rewards"]
