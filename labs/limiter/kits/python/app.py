"""A starter for the limiter build exercise: a service that answers the
whole contract, on Python's standard library and the redis package the
workbook's Python image carries.

It counts each client's requests in a dictionary of this process, and that
is not good enough yet. Run the checks, read what fails, and fix it:

- The grader runs 3 replicas of this service behind one address, round
  robin. Each replica counts on its own, so a client gets up to 3 times its
  quota through ("holds across 3 replicas"). The count has to live where
  every replica sees it: REDIS_URL.
- The count is a window that starts at a client's first request and
  resets when it ends. A client can use its quota at the end of one window
  and again at the start of the next ("no more than the limit in any
  sliding span").
- Once it talks to Redis: give every call a timeout (socket_timeout), or a
  Redis that does not answer holds every request ("Redis paused").
"""

import json
import math
import os
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

KEY = re.compile(r"[A-Za-z0-9._:-]{1,200}")


def env_int(name, default):
    try:
        v = int(os.environ.get(name, ""))
        return v if v > 0 else default
    except ValueError:
        return default


LIMIT = env_int("QUOTA_LIMIT", 20)
WINDOW = env_int("QUOTA_WINDOW_MS", 2000) / 1000
REPLICA = os.environ.get("REPLICA_ID", "")
# REDIS_URL is redis://[:password@]host:port/db; the redis package reads it
# with redis.Redis.from_url(url, socket_timeout=...).

windows = {}  # key -> [start of the window (monotonic seconds), count]
lock = threading.Lock()


def allow(key):
    """Counts one request of key; returns (allowed, seconds until the window ends)."""
    now = time.monotonic()
    with lock:
        w = windows.get(key)
        if w is None or now - w[0] >= WINDOW:
            w = windows[key] = [now, 0]
        w[1] += 1
        return w[1] <= LIMIT, w[0] + WINDOW - now


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if urlsplit(self.path).path == "/healthz":
            self.send(200, {"status": "ok"})
        else:
            self.send(404, {"error": {"message": "not found"}})

    def do_POST(self):
        url = urlsplit(self.path)
        if url.path != "/request":
            self.send(404, {"error": {"message": "not found"}})
            return
        key = parse_qs(url.query).get("key", [""])[0]
        if not KEY.fullmatch(key):
            self.send(400, {"error": {"field": "key", "message": "key must be 1 to 200 of A-Z a-z 0-9 . _ : -"}})
            return
        allowed, wait = allow(key)
        body = {"allowed": allowed, "key": key, "replica": REPLICA}
        if allowed:
            self.send(200, body)
            return
        # Whole seconds, rounded up, at least 1.
        self.send(429, body, {"Retry-After": str(max(1, math.ceil(wait)))})

    def send(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass  # one line per request would flood the log


class Server(ThreadingHTTPServer):
    """Serves each connection on a pool of 32 threads: threads count towards
    the sandbox's limit of 128 processes, and a thread per connection would
    run out under 200 requests at once."""

    daemon_threads = True
    request_queue_size = 256

    def __init__(self, *args):
        super().__init__(*args)
        self.pool = ThreadPoolExecutor(max_workers=32)

    def process_request(self, request, client_address):
        self.pool.submit(self.process_request_thread, request, client_address)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8080"))
    print(f"replica {REPLICA}: {LIMIT} requests per {WINDOW} s, listening on 0.0.0.0:{port}", file=sys.stderr, flush=True)
    Server(("0.0.0.0", port), Handler).serve_forever()
