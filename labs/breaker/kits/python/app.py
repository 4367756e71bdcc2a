"""Starter kit of the breaker-build exercise.

It starts, answers the contract, and cuts each attempt at CALL_TIMEOUT_MS
(a timeout is answered 504), but it makes the two classic mistakes of a
client of a flaky dependency:

- it retries every failed attempt up to 5 times at once, with no pause and
  no budget: a retry storm that multiplies the load on a dependency that is
  already failing ("retries within budget in a brownout" fails);
- it has no circuit breaker: when the dependency is down, every call still
  goes to it, 6 times ("opens after the threshold", "fails fast while open",
  the half-open check and the trial-call check fail).

Read the contract on the exercise's page, then fix both (see the TODOs).
Only the standard library is needed; redis and psycopg2 are installed too.
"""

import json
import os
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DOWNSTREAM = os.environ.get("DOWNSTREAM_URL", "http://downstream").rstrip("/")
TIMEOUT_S = int(os.environ.get("CALL_TIMEOUT_MS", "300")) / 1000
# The contract's other numbers: use them.
THRESHOLD = int(os.environ.get("FAILURE_THRESHOLD", "5"))
OPEN_S = int(os.environ.get("OPEN_MS", "2000")) / 1000
BUDGET = float(os.environ.get("RETRY_BUDGET", "0.1"))

# TODO: retry at most what the budget allows (RETRY_BUDGET of the first
# attempts over the last 10 s), after a short random pause.
RETRIES = 5


def fetch():
    """One attempt on the dependency: ("ok", quote), ("failed", None) or
    ("timeout", None)."""
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
    # TODO: ask a circuit breaker first; while it is open, answer 503 at
    # once without calling the dependency. Tell it how each attempt ended.
    for _ in range(1 + RETRIES):
        outcome, quote = fetch()
        if outcome == "ok":
            return 200, {"quote": quote}
        if outcome == "timeout":
            return 504, {"error": "The dependency did not answer within CALL_TIMEOUT_MS."}
    return 502, {"error": "The dependency failed."}


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
