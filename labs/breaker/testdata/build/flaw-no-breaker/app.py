"""A flawed variant of the breaker-build reference: its breaker lets every call through, so it never opens.

POST /call calls the dependency at $DOWNSTREAM_URL/quote through a circuit
breaker, cuts each attempt at CALL_TIMEOUT_MS, and retries a failed attempt
once when the retry budget allows it.
"""

import json
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DOWNSTREAM = os.environ.get("DOWNSTREAM_URL", "http://downstream").rstrip("/")
THRESHOLD = int(os.environ.get("FAILURE_THRESHOLD", "5"))
OPEN_S = int(os.environ.get("OPEN_MS", "2000")) / 1000
TIMEOUT_S = int(os.environ.get("CALL_TIMEOUT_MS", "300")) / 1000
BUDGET = float(os.environ.get("RETRY_BUDGET", "0.1"))
WINDOW_S = 10.0
MAX_RETRIES = 1


class Breaker:
    """Opens after THRESHOLD consecutive failed attempts, fails calls fast
    for OPEN_S, then lets one trial call through. Its lock is never held
    while a call runs."""

    def __init__(self):
        self.lock = threading.Lock()
        self.state = "closed"
        self.failures = 0
        self.opened_at = 0.0
        self.trial_out = False

    def allow(self):
        """Admits an attempt or not: (allowed, is the trial call)."""
        return True, False  # the flaw: the breaker never stops a call
        with self.lock:
            if self.state == "closed":
                return True, False
            if self.state == "open":
                if time.monotonic() - self.opened_at < OPEN_S:
                    return False, False
                self.state, self.trial_out = "half_open", False
            if self.trial_out:
                return False, False
            self.trial_out = True
            return True, True

    def done(self, trial, ok):
        """Records how an admitted attempt ended."""
        with self.lock:
            if trial and self.state == "half_open":
                self.trial_out = False
                if ok:
                    self.state, self.failures = "closed", 0
                else:
                    self._trip()
            elif trial or self.state != "closed":
                return  # the outcome of an attempt admitted in an earlier state
            elif ok:
                self.failures = 0
            else:
                self.failures += 1
                if self.failures >= THRESHOLD:
                    self._trip()

    def _trip(self):
        self.state, self.opened_at, self.failures = "open", time.monotonic(), 0


class RetryBudget:
    """Allows a retry while the retries of the last WINDOW_S stay within
    BUDGET of the first attempts of the last WINDOW_S."""

    def __init__(self):
        self.lock = threading.Lock()
        self.firsts = deque()
        self.retries = deque()

    def _prune(self, now):
        for q in (self.firsts, self.retries):
            while q and now - q[0] >= WINDOW_S:
                q.popleft()

    def first(self):
        with self.lock:
            now = time.monotonic()
            self._prune(now)
            self.firsts.append(now)

    def retry(self):
        with self.lock:
            now = time.monotonic()
            self._prune(now)
            if len(self.retries) + 1 > BUDGET * len(self.firsts):
                return False
            self.retries.append(now)
            return True


breaker = Breaker()
budget = RetryBudget()


def fetch():
    """One attempt on the dependency: ("ok", quote), ("failed", None) or
    ("timeout", None). The timeout bounds each socket operation, and the
    dependency either answers at once or hangs."""
    try:
        with urllib.request.urlopen(DOWNSTREAM + "/quote", timeout=TIMEOUT_S) as resp:
            return "ok", json.loads(resp.read())
    except urllib.error.HTTPError as e:
        e.close()
        return "failed", None
    except urllib.error.URLError as e:
        if isinstance(e.reason, TimeoutError):
            return "timeout", None
        return "failed", None
    except TimeoutError:
        return "timeout", None
    except (OSError, ValueError):
        return "failed", None


def call():
    """One client call: (status, body)."""
    allowed, trial = breaker.allow()
    if not allowed:
        return 503, {"error": "The breaker is open: failed fast without calling the dependency."}
    budget.first()
    retries = 0
    while True:
        outcome, quote = fetch()
        breaker.done(trial, outcome == "ok")
        if outcome == "ok":
            return 200, {"quote": quote}
        if outcome == "timeout":
            # Not retried: a timed-out attempt has used the caller's time.
            return 504, {"error": "The dependency did not answer within CALL_TIMEOUT_MS."}
        if retries == MAX_RETRIES or not budget.retry():
            return 502, {"error": "The dependency failed."}
        retries += 1
        time.sleep(random.uniform(0, 0.05))
        allowed, trial = breaker.allow()
        if not allowed:
            return 502, {"error": "The dependency failed, and the breaker refused a retry."}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle's
    # algorithm holds the body until the client's delayed ACK, 40 ms later.
    disable_nagle_algorithm = True

    def do_GET(self):
        if self.path == "/healthz":
            self.answer(200, {"status": "ok"})
        else:
            self.answer(404, {"error": "Not found."})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(min(length, 1 << 16))
        if self.path == "/call":
            self.answer(*call())
        else:
            self.answer(404, {"error": "Not found."})

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass  # a line per call would fill the capped log


def main():
    server = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler)
    server.daemon_threads = True
    print("listening on port", server.server_address[1], "dependency", DOWNSTREAM, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
