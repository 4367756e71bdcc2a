"""A service for the sandbox's tests: it answers the contract's /healthz,
uses what the job gives it, and, as MODE says, misbehaves the way hostile
or broken submissions do."""
import http.server
import json
import os
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request

MODE = os.environ.get("MODE", "normal")


def redis_client():
    import redis
    return redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=1, socket_connect_timeout=1)


def pg_count():
    import psycopg2
    with psycopg2.connect(os.environ["DATABASE_URL"], connect_timeout=2) as conn:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS hits (id serial PRIMARY KEY, replica text)")
            cur.execute("INSERT INTO hits (replica) VALUES (%s)", (os.environ.get("REPLICA_ID"),))
            cur.execute("SELECT count(*) FROM hits")
            return cur.fetchone()[0]


def reach(target):
    """Whether a TCP connection to host:port opens, or why not."""
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return "reached"
    except OSError as e:
        return "no: %s" % e


def resolve(name):
    try:
        return "resolved to %s" % socket.gethostbyname(name)
    except OSError as e:
        return "no: %s" % e


def unix(path):
    if not os.path.exists(path):
        return "no: absent"
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        return "reached"
    except OSError as e:
        return "no: %s" % e
    finally:
        s.close()


def probes(query):
    """Tries every target at once: TCP addresses, a name, Docker's socket."""
    tries = {"tcp " + t: (reach, t) for t in query.get("tcp", [""])[0].split(",") if t}
    tries["dns deb.debian.org"] = (resolve, "deb.debian.org")
    for path in ("/var/run/docker.sock", "/run/docker.sock"):
        tries["unix " + path] = (unix, path)
    out = {}

    def one(key, f, arg):
        out[key] = f(arg)
    threads = [threading.Thread(target=one, args=(k, f, a)) for k, (f, a) in tries.items()]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return out


def writes():
    out = {}
    for path in ("/app/x", "/x", "/tmp/x"):
        try:
            with open(path, "w") as f:
                f.write("x")
            out[path] = "written"
        except OSError as e:
            out[path] = "no: %s" % e
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        try:
            if u.path == "/healthz":
                return self.answer(200, {"ok": True})
            if u.path == "/env":
                return self.answer(200, {k: os.environ.get(k) for k in (
                    "PORT", "REPLICA_ID", "REDIS_URL", "DATABASE_URL", "DOWNSTREAM_URL", "GREETING", "MODE")} | {"uid": os.getuid(), "host": self.headers.get("Host")})
            if u.path == "/redis":
                return self.answer(200, {"count": redis_client().incr("hits")})
            if u.path == "/pg":
                return self.answer(200, {"count": pg_count()})
            if u.path == "/down":
                with urllib.request.urlopen(os.environ["DOWNSTREAM_URL"] + "/called?from=" + os.environ["REPLICA_ID"], timeout=5) as r:
                    return self.answer(200, {"status": r.status, "body": r.read().decode()})
            if u.path == "/probe":
                return self.answer(200, probes(q))
            if u.path == "/write":
                return self.answer(200, writes())
            if u.path == "/pids":
                return self.answer(200, {"pids": len([p for p in os.listdir("/proc") if p.isdigit()])})
            return self.answer(404, {"error": "no route"})
        except Exception as e:  # the tests read what failed
            return self.answer(500, {"error": "%s: %s" % (type(e).__name__, e)})


def fork_bomb():
    while True:
        try:
            if os.fork() == 0:
                continue  # the child forks too
        except OSError:
            time.sleep(0.05)


def spin():
    while True:
        pass


def main():
    if MODE == "crash":
        print("giving up at once", flush=True)
        sys.exit(3)
    if MODE == "oom":
        hog = []
        while True:
            hog.append(b"x" * (16 << 20))
    if MODE == "never":
        print("never listening", flush=True)
        while True:
            time.sleep(60)
    if MODE == "flood":
        line = "flood " + "x" * 1017 + "\n"
        for _ in range(50 * 1024):
            sys.stdout.write(line)
        sys.stdout.flush()
    srv = http.server.HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler)
    if MODE == "fork":
        threading.Thread(target=fork_bomb, daemon=True).start()
    if MODE == "busy":
        for _ in range(3):
            if os.fork() == 0:
                spin()
    print("listening on", os.environ["PORT"], flush=True)
    srv.serve_forever()


main()
