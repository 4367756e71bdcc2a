#!/usr/bin/env bash
# Brings up docker-compose.yml (two app replicas behind nginx, PostgreSQL,
# Redis, a grader) with locally built images and runs cmd/chaosclient
# against it: a bounded loop of page, API and lab requests through nginx
# (5 s timeout each) while Redis is stopped for 15 s, PostgreSQL is
# stopped for 15 s, one replica is killed and started again, the grader is
# killed while it grades a submission, and nginx is reloaded. It prints per
# phase the requests, errors by status, the longest error streak, the
# time to recover and the slowest request, and the submissions' final
# states; it exits non-zero when a goal is missed (a replica kill costs at
# most 1 s of requests, no request waits more than 5 s, the app is back
# within 2 s of a dependency, pages that need neither dependency never
# fail, every submission graded exactly once). The stack is taken down at
# the end.
#
#   scripts/chaos.sh
#   CHAOS_PHASES=replica,redis CHAOS_OUTAGE=8s scripts/chaos.sh
set -euo pipefail
cd "$(dirname "$0")/.."
project=workbook-chaos-$$
port=${WORKBOOK_PORT:-$((20000 + RANDOM % 20000))}
export WORKBOOK_PORT=$port
export WORKBOOK_APP_IMAGE=$project:latest
export WORKBOOK_POSTGRES_IMAGE=${WORKBOOK_POSTGRES_IMAGE:-workbook-local/postgres:15}
export WORKBOOK_REDIS_IMAGE=${WORKBOOK_REDIS_IMAGE:-workbook-local/redis:7}
export WORKBOOK_NGINX_IMAGE=${WORKBOOK_NGINX_IMAGE:-workbook-local/nginx:1.30}
# The stack has no default database password; a throwaway one per run.
# The stack reads the database password from a secret file only (as the
# README tells an operator to make it); a throwaway one per run, readable
# by the app's user alone.
secrets=$(mktemp -d)
export POSTGRES_PASSWORD_FILE=$secrets/postgres_password
head -c 18 /dev/urandom | base64 >"$POSTGRES_PASSWORD_FILE"
if [ "$(id -u)" = 0 ]; then chown 65532 "$POSTGRES_PASSWORD_FILE" && chmod 0400 "$POSTGRES_PASSWORD_FILE"; else chmod 0444 "$POSTGRES_PASSWORD_FILE"; fi
export WORKBOOK_GRADER_NETWORK=$project-grading
net=$((RANDOM % 250 + 1))
export WORKBOOK_NETWORK_SUBNET=10.213.$net.0/24 WORKBOOK_NGINX_ADDRESS=10.213.$net.10
compose_cmd="docker-compose --compatibility -p $project"
compose() { $compose_cmd "$@"; }
docker_cli=$(command -v /usr/bin/docker || command -v docker)
t0=$SECONDS
step() { echo "[$((SECONDS - t0)) s] $*"; }

scripts/images.sh balancer
tmp=$(mktemp -d)
CGO_ENABLED=0 go build -trimpath -o bin/server ./cmd/server
go build -o "$tmp/chaosclient" ./cmd/chaosclient
DOCKER_BUILDKIT=1 "$docker_cli" build -q --target prebuilt -t "$WORKBOOK_APP_IMAGE" . >/dev/null
step "images built"
trap 'compose logs --no-color app grader nginx > /tmp/workbook-chaos.log 2>&1 || true; compose down -v >/dev/null 2>&1 || true
	docker rmi "$WORKBOOK_APP_IMAGE" >/dev/null 2>&1 || true; rm -rf "$tmp"; rm -rf "$secrets"' EXIT
compose up -d
base=http://127.0.0.1:$port
for _ in $(seq 1 240); do
	curl -fs "$base/readyz" >/dev/null 2>&1 && break
	sleep 0.5
done
curl -fs "$base/readyz" >/dev/null || { echo "the stack did not become ready" >&2; exit 1; }
step "stack ready"
"$tmp/chaosclient" -base "$base" -compose "$compose_cmd" -docker "$docker_cli" \
	-phases "${CHAOS_PHASES:-redis,postgres,replica,grader,reload}" -outage "${CHAOS_OUTAGE:-15s}"
step "chaos run passed"
