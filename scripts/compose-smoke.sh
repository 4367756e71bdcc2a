#!/usr/bin/env bash
# Brings up docker-compose.yml (two app replicas behind nginx, PostgreSQL,
# Redis) with locally built images, checks the stack through nginx (ready,
# register, log in on one replica and stay logged in on the other), and
# takes it down again. Needs a Docker engine and docker-compose.
#
#   scripts/compose-smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."
port=${WORKBOOK_PORT:-18088}
export WORKBOOK_PORT=$port
export WORKBOOK_APP_IMAGE=workbook-smoke:latest
export WORKBOOK_POSTGRES_IMAGE=${WORKBOOK_POSTGRES_IMAGE:-workbook-local/postgres:15}
export WORKBOOK_REDIS_IMAGE=${WORKBOOK_REDIS_IMAGE:-workbook-local/redis:7}
export WORKBOOK_NGINX_IMAGE=${WORKBOOK_NGINX_IMAGE:-workbook-local/nginx:1.27}
export TESTCONTAINERS_RYUK_DISABLED=true # the reaper's image cannot be pulled here
compose() { docker-compose --compatibility -p workbook-smoke "$@"; }
docker_cli=$(command -v /usr/bin/docker || command -v docker)

scripts/images.sh nginx
CGO_ENABLED=0 go build -trimpath -o bin/server ./cmd/server
DOCKER_BUILDKIT=1 "$docker_cli" build -q --target prebuilt -t "$WORKBOOK_APP_IMAGE" . >/dev/null

trap 'compose logs --no-color app grader > /tmp/workbook-smoke-app.log 2>&1 || true; compose down -v >/dev/null 2>&1 || true' EXIT
compose up -d
base=http://127.0.0.1:$port
for _ in $(seq 1 120); do
	curl -fs "$base/readyz" >/dev/null 2>&1 && break
	sleep 0.5
done
curl -fs "$base/readyz"; echo

jar=$(mktemp)
code=$(curl -s -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" -H "Origin: $base" \
	--data-urlencode email=smoke@example.org --data-urlencode 'password=a long smoke password' "$base/register")
[ "$code" = 303 ] || { echo "register answered $code" >&2; exit 1; }
# Twenty page views spread over both replicas by least_conn: every one must
# see the session, which lives in PostgreSQL, not in a replica.
for i in $(seq 1 20); do
	curl -fs -b "$jar" "$base/progress" | grep -q 'smoke@example.org' || { echo "view $i lost the session" >&2; exit 1; }
done
# A lab instance lives in the replica that launched it; nginx keeps the
# session's lab traffic on that replica, so every poke finds it.
id=$(curl -fs -b "$jar" -H "Origin: $base" -H 'Content-Type: application/json' \
	-d '{"limit": 5, "window_ms": 60000}' "$base/api/labs/limiter/instances" | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')
[ -n "$id" ] || { echo "could not launch a lab instance" >&2; exit 1; }
allowed=0
for i in $(seq 1 12); do
	code=$(curl -s -o /dev/null -w '%{http_code}' -b "$jar" -H "Origin: $base" -X POST "$base/api/labs/limiter/instances/$id/request?key=smoke")
	case $code in
	200) allowed=$((allowed + 1)) ;;
	429) ;;
	*) echo "poke $i answered $code: the instance was not found on the replica nginx chose" >&2; curl -s -b "$jar" -H "Origin: $base" -X POST "$base/api/labs/limiter/instances/$id/request?key=smoke" >&2; echo "id=$id" >&2; exit 1 ;;
	esac
done
[ "$allowed" -eq 5 ] || { echo "limiter admitted $allowed of 12, want 5" >&2; exit 1; }
echo "lab instance $id: 12 pokes through nginx, 5 allowed"
replicas=$(compose ps -q app | wc -l)
served=$(compose logs --no-color app | grep -c '"path":"/progress"' || true)
per=$(for c in $(compose ps -q app); do docker logs "$c" 2>&1 | grep -c '"path":"/progress"' || true; done | tr '\n' ' ')
echo "replicas: $replicas; /progress served per replica: $per(total $served)"
[ "$replicas" -ge 2 ] || { echo "expected two app replicas" >&2; exit 1; }
for n in $per; do [ "$n" -gt 0 ] || { echo "a replica served no request" >&2; exit 1; }; done
# A submission made through a web replica is graded by the grader service,
# in containers it starts beside the stack.
sub=$(curl -fs -b "$jar" -H "Origin: $base" -H 'Content-Type: application/json' \
	-d '{"design": {"algorithm": "sliding_log", "limit": 20, "window_ms": 2000}, "notes": "smoke"}' \
	"$base/api/labs/limiter/submissions" | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')
[ -n "$sub" ] || { echo "could not submit a design" >&2; exit 1; }
status=
for _ in $(seq 1 240); do
	res=$(curl -fs -b "$jar" "$base/api/submissions/$sub")
	status=$(printf '%s' "$res" | sed -n 's/.*"status":"\([a-z_]*\)".*/\1/p')
	case $status in graded | not_gradable | timed_out) break ;; esac
	sleep 0.5
done
printf '%s' "$res" | grep -q '"score":100' || { echo "submission ended $status: $res" >&2; exit 1; }
printf '%s' "$res" | grep -q '"environment":"containers' || { echo "not graded in containers: $res" >&2; exit 1; }
echo "submission $sub graded by the grader service in containers: 100/100"
echo "compose smoke test passed"
