"""A flawed variant of the reference: the same sliding log, but read,
decided in the service and written back in separate round trips, so
requests in flight together all read the same count. It must fail "exact
under 200 concurrent requests" (and, with 16 requests in flight in its
burst, "no more than the limit in any sliding span"), and pass the rest.
"""

import json
import math
import os
import re
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import redis

# One sorted set per client: the times (Redis clock, ms) of the requests it
# was let through in the last window. Removing old entries, counting and
# adding happen in one step, so concurrent requests cannot all see the
# same count. Returns {allowed, remaining, retry after ms, now ms}.
SLIDING_LOG = """
local key    = KEYS[1]
local limit  = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t   = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local n = redis.call('ZCARD', key)
if n < limit then
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, window)
  return {1, limit - n - 1, 0, now}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {0, 0, tonumber(oldest[2]) + window - now, now}
"""

KEY = re.compile(r"[A-Za-z0-9._:-]{1,200}")


def env_int(name, default):
    try:
        v = int(os.environ.get(name, ""))
        return v if v > 0 else default
    except ValueError:
        return default


LIMIT = env_int("QUOTA_LIMIT", 20)
WINDOW_MS = env_int("QUOTA_WINDOW_MS", 2000)
REPLICA = os.environ.get("REPLICA_ID", "")
# A Redis that does not answer costs a request at most 250 ms.
RDB = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=0.25, socket_connect_timeout=0.25)
SCRIPT = RDB.register_script(SLIDING_LOG)


def decide(key):
    """Returns (allowed, remaining, retry_after_ms, now_ms)."""
    k = "rl:{" + key + "}"
    sec, usec = RDB.time()
    now = sec * 1000 + usec // 1000
    # Read the count, decide here, then write: separate round trips, and
    # every request in flight meanwhile reads the same count.
    RDB.zremrangebyscore(k, "-inf", now - WINDOW_MS)
    n = RDB.zcard(k)
    if n < LIMIT:
        # Work done between deciding and counting (it stands for a service
        # a little farther from its Redis, and makes the race show every
        # time, even on a busy machine).
        time.sleep(0.05)
        RDB.zadd(k, {secrets.token_hex(8): now})
        RDB.pexpire(k, WINDOW_MS)
        return True, LIMIT - n - 1, 0, now
    oldest = RDB.zrange(k, 0, 0, withscores=True)
    return False, 0, int(oldest[0][1]) + WINDOW_MS - now, now


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
        body = {"key": key, "replica": REPLICA, "limit": LIMIT}
        try:
            allowed, remaining, retry_ms, now = decide(key)
        except (redis.RedisError, OSError) as e:
            # Fail open: the limiter is a safety net in front of an API, and
            # a Redis outage must not become an outage of the API.
            print(f"replica {REPLICA}: key {key}: Redis did not decide, letting the request through: {e!r}", file=sys.stderr, flush=True)
            self.send(200, dict(body, allowed=True, fail_open=True))
            return
        body.update(allowed=allowed, remaining=remaining, decided_at_ms=now)
        headers = {"RateLimit-Limit": str(LIMIT), "RateLimit-Remaining": str(remaining)}
        if allowed:
            self.send(200, body, headers)
            return
        # Whole seconds, rounded up: a client that waits this long gets in.
        headers["Retry-After"] = str(max(1, math.ceil(retry_ms / 1000)))
        self.send(429, dict(body, retry_after_ms=retry_ms), headers)

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
    the sandbox's 128 processes, and a thread per connection would run out
    under 200 requests at once."""

    daemon_threads = True
    request_queue_size = 256

    def __init__(self, *args):
        super().__init__(*args)
        self.pool = ThreadPoolExecutor(max_workers=32)

    def process_request(self, request, client_address):
        self.pool.submit(self.process_request_thread, request, client_address)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8080"))
    print(f"replica {REPLICA}: {LIMIT} requests per {WINDOW_MS} ms, listening on 0.0.0.0:{port}", file=sys.stderr, flush=True)
    Server(("0.0.0.0", port), Handler).serve_forever()
