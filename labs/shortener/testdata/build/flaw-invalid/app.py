"""Any string is shortened as a URL: javascript: and data: URLs,
credentials, spaces and line breaks included. Fails "invalid input
rejected".

A flawed variant of the reference solution (../python), which is
otherwise unchanged.
"""

import ipaddress
import json
import os
import re
import secrets
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import psycopg2
import psycopg2.pool
import redis

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CODE_LEN = 7
ATTEMPTS = 8  # codes drawn for one link before giving up
MAX_URL = 2048
MAX_TTL_S = 10 * 365 * 24 * 3600
MAX_BODY = 4 << 20
MAX_BATCH = 1000
MAX_LIST = 1000
CACHE_TTL_MS = 3600 * 1000
REDIS_TIMEOUT_S = 0.25
REDIS_REST_S = 5  # after a Redis error, redirects leave Redis alone this long
DB_CONNECTIONS = 10

RESERVED = {
    "admin", "api", "r", "shorten", "batch", "links", "stats", "healthz", "health",
    "login", "logout", "register", "static", "assets", "help", "about", "www",
    "new", "settings", "dashboard", "account",
}
ALIAS_RE = re.compile(r"[A-Za-z0-9_-]{3,32}")
CODE_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
LABEL_RE = re.compile(r"[A-Za-z0-9_-]{1,63}")

SCHEMA = """
CREATE TABLE IF NOT EXISTS links (
    code          text PRIMARY KEY,
    url           text NOT NULL,
    expires_at_ms bigint,
    created_at_ms bigint NOT NULL
)"""


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def now_ms():
    return int(time.time() * 1000)


class Invalid(Exception):
    """A request the contract refuses: status, field and a sentence."""

    def __init__(self, status, field, message, code="invalid"):
        super().__init__(message)
        self.status, self.field, self.message, self.code = status, field, message, code


# --- validation ----------------------------------------------------------


def check_url(u):
    """Says what is wrong with a URL to shorten, or None."""
    if not isinstance(u, str):
        return "url must be a string: the http or https address to shorten."
    if u == "":
        return "url is empty: give the http or https address to shorten."
    return None
    if len(u) > MAX_URL:
        return "url is %d characters long; at most %d are allowed." % (len(u), MAX_URL)
    for i, c in enumerate(u):
        if c <= " " or c == "\x7f":
            return "url contains a space or control character at position %d; percent-encode it." % (i + 1)
        if ord(c) >= 0x80:
            return "url contains non-ASCII characters; percent-encode them."
        if c == "\\":
            return "url contains a backslash, which browsers read as '/'."
    try:
        parts = urlsplit(u)
        port = parts.port
    except ValueError as e:
        return "url is not a valid URL: %s." % e
    if parts.scheme == "":
        return "url has no scheme: it must start with http:// or https://."
    if parts.scheme not in ("http", "https"):
        return "url has the scheme %r; only http and https links can be shortened." % parts.scheme
    if not u[len(parts.scheme) + 1:].startswith("//"):
        return "url must be absolute, like https://example.org/page."
    if "@" in parts.netloc:
        return "url contains credentials (a user name before the host); such links are refused."
    host = parts.hostname or ""
    if host == "":
        return "url has no host: it must look like https://example.org/page."
    if port is not None and not 1 <= port <= 65535:
        return "url has a port outside 1 to 65535."
    return check_host(host, parts.netloc)


def check_host(host, netloc):
    if netloc.startswith("["):
        try:
            ipaddress.IPv6Address(host)
            return None
        except ValueError:
            return "url has the host %r, which is not a valid IPv6 address." % host
    if len(host) > 253:
        return "url has a host name longer than 253 characters."
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    for label in labels:
        if not LABEL_RE.fullmatch(label):
            return "url has the host %r; a host name has only letters, digits, hyphens and dots." % host
    return None


def check_alias(a):
    if not isinstance(a, str):
        return "alias must be a string."
    if not ALIAS_RE.fullmatch(a):
        return "alias must be 3 to 32 characters of A-Z, a-z, 0-9, '-' and '_'."
    if a.lower() in RESERVED:
        return "alias %r is a reserved word." % a
    if len(a) == CODE_LEN and a.isalnum():
        return "alias %r looks like a generated code (7 letters and digits); use another length, or add '-' or '_'." % a
    return None


def read_create(body):
    """Validates POST /shorten's body: (url, alias or None, ttl_s or None)."""
    if not isinstance(body, dict):
        raise Invalid(400, "body", 'The body must be a JSON object like {"url": "https://example.org/page"}.')
    if "url" not in body or body["url"] is None:
        raise Invalid(400, "url", "url is required: the http or https address to shorten.")
    msg = check_url(body["url"])
    if msg:
        raise Invalid(400, "url", msg)
    alias = body.get("alias")
    if alias == "":
        alias = None
    if alias is not None:
        msg = check_alias(alias)
        if msg:
            raise Invalid(400, "alias", msg)
    ttl = body.get("ttl_s")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL_S):
        raise Invalid(400, "ttl_s", "ttl_s, when given, must be a whole number of seconds from 1 to %d (ten years)." % MAX_TTL_S)
    return body["url"], alias, ttl


# --- storage ---------------------------------------------------------------


class Store:
    """Links in PostgreSQL, cached in Redis."""

    def __init__(self, database_url, redis_url):
        self.pool = self._connect(database_url)
        self.slots = threading.BoundedSemaphore(DB_CONNECTIONS)
        self.redis = redis.Redis.from_url(redis_url, socket_timeout=REDIS_TIMEOUT_S,
                                          socket_connect_timeout=REDIS_TIMEOUT_S, retry_on_timeout=False)
        self.redis_rest_until = 0.0

    @staticmethod
    def _connect(database_url):
        deadline = time.monotonic() + 15
        while True:
            try:
                pool = psycopg2.pool.ThreadedConnectionPool(1, DB_CONNECTIONS, database_url)
                break
            except psycopg2.OperationalError as e:
                if time.monotonic() > deadline:
                    raise
                log("database not reachable yet:", str(e).strip())
                time.sleep(0.5)
        conn = pool.getconn()
        try:
            with conn, conn.cursor() as cur:
                # Replicas start together: one creates the table at a time.
                cur.execute("SELECT pg_advisory_xact_lock(7262)")
                cur.execute(SCHEMA)
        finally:
            pool.putconn(conn)
        return pool

    @contextmanager
    def cursor(self):
        """A cursor in a transaction, committed when the block ends."""
        with self.slots:
            conn = self.pool.getconn()
            broken = False
            try:
                with conn, conn.cursor() as cur:
                    yield cur
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                broken = True
                raise
            finally:
                self.pool.putconn(conn, close=broken)

    def new_code(self):
        return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LEN))

    def insert(self, cur, url, alias, ttl_s):
        """Inserts one link; its code, or None when no free code was found
        (or the alias is taken). Also the number of codes that were taken."""
        now = now_ms()
        expires = now + ttl_s * 1000 if ttl_s else None
        taken = 0
        for _ in range(1 if alias else ATTEMPTS):
            code = alias or self.new_code()
            cur.execute("INSERT INTO links (code, url, expires_at_ms, created_at_ms) VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT (code) DO NOTHING RETURNING code", (code, url, expires, now))
            if cur.fetchone():
                return code, expires, taken
            taken += 1
        return None, expires, taken

    def lookup(self, code):
        """(url, expires_at_ms) of a link, or None: from Redis when it has
        it, else from the database (then kept in Redis)."""
        hit = self._cache_get(code)
        if hit is not None:
            return hit["u"], hit["e"]
        with self.cursor() as cur:
            cur.execute("SELECT url, expires_at_ms FROM links WHERE code = %s", (code,))
            row = cur.fetchone()
        if row is None:
            return None
        self._cache_put(code, row[0], row[1])
        return row

    def page(self, after, limit):
        with self.cursor() as cur:
            cur.execute("SELECT code, url, expires_at_ms FROM links WHERE code > %s ORDER BY code LIMIT %s", (after, limit))
            return cur.fetchall()

    def _cache_get(self, code):
        if time.monotonic() < self.redis_rest_until:
            return None
        try:
            raw = self.redis.get("link:" + code)
        except redis.RedisError as e:
            self._redis_failed(e)
            return None
        return json.loads(raw) if raw else None

    def _cache_put(self, code, url, expires):
        ttl = CACHE_TTL_MS
        if expires is not None:
            ttl = min(ttl, expires - now_ms())
        if ttl <= 0 or time.monotonic() < self.redis_rest_until:
            return
        try:
            self.redis.set("link:" + code, json.dumps({"u": url, "e": expires}), px=ttl)
        except redis.RedisError as e:
            self._redis_failed(e)

    def _redis_failed(self, e):
        if time.monotonic() >= self.redis_rest_until:
            log("redis failed, using the database alone for %d s: %s" % (REDIS_REST_S, e))
        self.redis_rest_until = time.monotonic() + REDIS_REST_S


# --- HTTP ----------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    store = None  # set in main

    def log_message(self, fmt, *args):
        pass  # one line per request would flood the log

    def send_json(self, status, value, headers=None):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_error_json(self, status, field, message, code="invalid", headers=None):
        detail = {"code": code, "message": message}
        if field:
            detail["fields"] = {field: message}
        self.send_json(status, {"error": detail}, headers)

    def read_json(self):
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise Invalid(400, "body", "Content-Length is not a number.")
        if n > MAX_BODY:
            raise Invalid(413, "body", "The body is larger than %d bytes." % MAX_BODY)
        raw = self.rfile.read(n)
        self.body_read = True
        try:
            return json.loads(raw)
        except ValueError:
            raise Invalid(400, "body", "The body is not valid JSON.")

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def do_DELETE(self):
        self.route("DELETE")

    def route(self, method):
        path, _, query = self.path.partition("?")
        self.body_read = False
        try:
            self.dispatch(method, path, query)
        except Invalid as e:
            self.send_error_json(e.status, e.field, e.message, e.code)
        except Exception as e:  # a learner reads a sentence; the log gets the detail
            log("error on %s %s: %r" % (method, path, e))
            self.send_error_json(500, None, "The service failed; its log says why.", "internal")
        if not self.body_read and self.headers.get("Content-Length", "0") not in ("", "0"):
            self.close_connection = True  # an unread body would garble the next request

    def dispatch(self, method, path, query):
        routes = {"/healthz": ("GET", self.healthz), "/shorten": ("POST", self.shorten),
                  "/batch": ("POST", self.batch), "/links": ("GET", self.links)}
        if path.startswith("/r/") and method == "GET":
            return self.redirect(path[3:])
        if path not in routes:
            return self.send_error_json(404, None, "No such route.", "not_found")
        want, handler = routes[path]
        if method != want:
            return self.send_error_json(405, None, "Use %s." % want, "method_not_allowed", {"Allow": want})
        handler(query)

    def healthz(self, query):
        self.send_json(200, {"status": "ok"})

    def short_url(self, code):
        return "http://%s/r/%s" % (self.headers.get("Host", "localhost"), code)

    def shorten(self, query):
        url, alias, ttl = read_create(self.read_json())
        with self.store.cursor() as cur:
            code, expires, _ = self.store.insert(cur, url, alias, ttl)
        if code is None and alias:
            raise Invalid(409, "alias", "The alias %r is taken." % alias, "conflict")
        if code is None:
            raise Invalid(503, "code", "No free code was found after %d tries." % ATTEMPTS, "no_free_code")
        short = self.short_url(code)
        self.send_json(201, {"code": code, "path": "r/" + code, "short_url": short, "url": url,
                             "expires_at_ms": expires}, {"Location": short})

    def batch(self, query):
        body = self.read_json()
        urls = body.get("urls") if isinstance(body, dict) else None
        if not isinstance(urls, list) or not 1 <= len(urls) <= MAX_BATCH:
            raise Invalid(400, "urls", "urls must be a list of 1 to %d URLs." % MAX_BATCH)
        for i, u in enumerate(urls):
            msg = check_url(u)
            if msg:
                raise Invalid(400, "urls", "urls[%d]: %s" % (i, msg))
        results, collisions = [], 0
        with self.store.cursor() as cur:
            for u in urls:
                code, _, taken = self.store.insert(cur, u, None, None)
                collisions += taken
                results.append({"code": code} if code else {"error": "no_free_code"})
        created = sum(1 for r in results if "code" in r)
        self.send_json(200, {"requested": len(urls), "created": created, "failed": len(urls) - created,
                             "collisions": collisions, "results": results})

    def redirect(self, code):
        if not CODE_RE.fullmatch(code):
            return self.send_error_json(404, "code", "No link has this code.", "not_found")
        found = self.store.lookup(code)
        if found is None:
            return self.send_error_json(404, "code", "No link has this code.", "not_found")
        url, expires = found
        if expires is not None and now_ms() >= expires:
            return self.send_error_json(410, "code", "This link has expired.", "gone")
        self.send_response(302)
        self.send_header("Location", url)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def links(self, query):
        q = parse_qs(query)
        after = q.get("after", [""])[0]
        try:
            limit = int(q.get("limit", [str(MAX_LIST)])[0])
        except ValueError:
            raise Invalid(400, "limit", "limit must be a whole number from 1 to %d." % MAX_LIST)
        if not 1 <= limit <= MAX_LIST:
            raise Invalid(400, "limit", "limit must be a whole number from 1 to %d." % MAX_LIST)
        rows = self.store.page(after, limit)
        links = []
        for code, url, expires in rows:
            link = {"code": code, "url": url}
            if expires is not None:
                link["expires_at_ms"] = expires
            links.append(link)
        nxt = rows[-1][0] if len(rows) == limit else ""
        self.send_json(200, {"links": links, "next": nxt})


def main():
    Handler.store = Store(os.environ["DATABASE_URL"], os.environ["REDIS_URL"])
    server = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler)
    server.daemon_threads = True
    log("replica %s listening on %s" % (os.environ.get("REPLICA_ID", "?"), server.server_address))
    server.serve_forever()


if __name__ == "__main__":
    main()
