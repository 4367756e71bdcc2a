#!/usr/bin/env bash
# Brings up docker-compose.yml (two app replicas behind nginx, PostgreSQL,
# Redis, a grader) with locally built images, checks the stack through nginx
# (ready, register, log in on one replica and stay logged in on the other,
# a lab instance), has the grader service grade one exercise of every lab in
# containers, keeps a learner's requests answered while one replica is
# killed and Redis is stopped (cmd/chaosclient), and takes the stack down
# again. Beside it, the same image in a
# plain `docker run` (no Docker socket, so grading on the built-in Redis and
# SQLite) grades the cache exercise, which needs a writable /tmp. Needs a
# Docker engine and docker-compose. Nothing is set that the README does not
# tell an operator to set: the grader decides about testcontainers' reaper
# itself.
#
#   scripts/compose-smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# Names and ports of this run's own, so runs on one machine do not meet.
project=workbook-smoke-$$
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
# The metrics token too (deploy/compose.metrics.yml opens /metrics through
# nginx to a scraper holding it).
export METRICS_TOKEN_FILE=$secrets/metrics_token
od -An -N16 -tx1 /dev/urandom | tr -d " \n" >"$METRICS_TOKEN_FILE"
for f in "$POSTGRES_PASSWORD_FILE" "$METRICS_TOKEN_FILE"; do
	if [ "$(id -u)" = 0 ]; then chown 65532 "$f" && chmod 0400 "$f"; else chmod 0444 "$f"; fi
done
export WORKBOOK_GRADER_NETWORK=$project-grading
# The stack's network has a fixed subnet with nginx at a fixed address (the
# app's only trusted proxy); a subnet of this run's own keeps runs apart.
net=$((RANDOM % 250 + 1))
export WORKBOOK_NETWORK_SUBNET=10.213.$net.0/24 WORKBOOK_NGINX_ADDRESS=10.213.$net.10
compose_files="-f docker-compose.yml -f deploy/compose.metrics.yml"
compose() { docker-compose $compose_files --compatibility -p "$project" "$@"; }
docker_cli=$(command -v /usr/bin/docker || command -v docker)
t0=$SECONDS
step() { echo "[$((SECONDS - t0)) s] $*"; }

scripts/images.sh balancer
CGO_ENABLED=0 go build -trimpath -o bin/server ./cmd/server
chaosclient=$(mktemp)
go build -o "$chaosclient" ./cmd/chaosclient
DOCKER_BUILDKIT=1 "$docker_cli" build -q --target prebuilt -t "$WORKBOOK_APP_IMAGE" . >/dev/null

step "images built"
plain=$project-plain
plain_base=http://127.0.0.1:$((port + 1))
trap 'compose logs --no-color app grader > /tmp/workbook-smoke-app.log 2>&1 || true; compose down -v >/dev/null 2>&1 || true
	docker logs "$plain" > /tmp/workbook-smoke-plain.log 2>&1 || true; docker rm -f -v "$plain" >/dev/null 2>&1 || true
	docker rmi "$WORKBOOK_APP_IMAGE" >/dev/null 2>&1 || true; rm -f "$chaosclient"; rm -rf "$secrets"' EXIT
docker run -d --name "$plain" -p "127.0.0.1:$((port + 1)):8080" "$WORKBOOK_APP_IMAGE" >/dev/null
compose up -d
base=http://127.0.0.1:$port
for _ in $(seq 1 120); do
	curl -fs "$base/readyz" >/dev/null 2>&1 && break
	sleep 0.5
done
curl -fs "$base/readyz"; echo
step "stack ready"

# /metrics through nginx: the token opens it, and without it is a 404.
token=$(cat "$METRICS_TOKEN_FILE")
curl -fsS -H "Authorization: Bearer $token" "$base/metrics" | grep -q '^workbook_http_requests_total{' ||
	{ echo "no request metrics through nginx with the token" >&2; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/metrics")
[ "$code" = 404 ] || { echo "/metrics through nginx without the token answered $code, want 404" >&2; exit 1; }
step "metrics scraped through nginx with the token (404 without it)"

jar=$(mktemp)
code=$(curl -s -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" -H "Origin: $base" \
	--data-urlencode email=smoke@example.org --data-urlencode 'password=a long smoke password' "$base/register")
[ "$code" = 303 ] || { echo "register answered $code" >&2; exit 1; }
# Twenty page views spread over both replicas by least_conn: every one must
# see the session, which lives in PostgreSQL, not in a replica.
for i in $(seq 1 20); do
	curl -fs -b "$jar" "$base/progress" | grep -q 'smoke@example.org' || { echo "view $i lost the session" >&2; exit 1; }
done
# A client's own X-Forwarded-For is dropped by nginx: the app logs the
# address nginx saw, neither the claimed one nor nginx's own.
spoof=smoke-spoof-$$
curl -fs -o /dev/null -H "X-Request-ID: $spoof" -H 'X-Forwarded-For: 198.51.100.77' -H 'X-Real-IP: 198.51.100.78' "$base/login"
ip=""
for _ in $(seq 1 20); do
	ip=$(compose logs --no-color app | grep "\"request_id\":\"$spoof\"" | sed -n 's/.*"ip":"\([^"]*\)".*/\1/p' | head -1)
	[ -n "$ip" ] && break
	sleep 0.5
done
case $ip in
"" | 198.51.100.* | "$WORKBOOK_NGINX_ADDRESS") echo "a spoofed X-Forwarded-For was logged as client address \"$ip\"" >&2; exit 1 ;;
esac
echo "client address through nginx: $ip (the spoofed header was dropped)"
# A lab instance is held by the replica that launched it, and the other
# replica forwards to it, so every poke finds it whichever replica nginx
# picks. The limiter is an exact sliding log, so 5 of the 12 pass whatever
# window edge the pokes cross (the default sliding window counter lets one
# more through right after an edge, which this run once met).
id=$(curl -fs -b "$jar" -H "Origin: $base" -H 'Content-Type: application/json' \
	-d '{"algorithm": "sliding_log", "limit": 5, "window_ms": 60000}' "$base/api/labs/limiter/instances" | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')
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
# The grader service grades one exercise of every lab, each submitted
# through a web replica, in containers it starts on the grading network. A
# learner may have 3 submissions waiting, so a second learner sends two.
labs=$(curl -fs -b "$jar" "$base/api/labs")
for lab in limiter breaker cache shop shortener; do
	grep -q "\"id\":\"$lab\"" <<<"$labs" || { echo "GET /api/labs does not list $lab: ${labs:0:300}" >&2; exit 1; }
done
register() { # base email → cookie jar
	local j
	j=$(mktemp)
	code=$(curl -s -o /dev/null -w '%{http_code}' -c "$j" -b "$j" -H "Origin: $1" \
		--data-urlencode "email=$2" --data-urlencode 'password=a long smoke password' "$1/register")
	[ "$code" = 303 ] || { echo "register on $1 answered $code" >&2; exit 1; }
	echo "$j"
}
jar2=$(register "$base" smoke2@example.org)
for _ in $(seq 1 60); do
	curl -fs "$plain_base/readyz" >/dev/null 2>&1 && break
	sleep 0.5
done
jar3=$(register "$plain_base" plain@example.org)
declare -A subs jars bases wants
submit() { # key base jar lab exercise design environment-prefix
	local id
	id=$(curl -fs -b "$3" -H "Origin: $2" -H 'Content-Type: application/json' \
		-d "{\"exercise\": \"$5\", \"design\": $6, \"notes\": \"smoke\"}" \
		"$2/api/labs/$4/submissions" | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')
	[ -n "$id" ] || { echo "could not submit $1" >&2; exit 1; }
	subs[$1]=$id bases[$1]=$2 jars[$1]=$3 wants[$1]=$7
}
# The limiter's design is a known good one (all 100 points); the others are
# the labs' defaults, which must be graded whatever they score. The longest
# suites go first, so the two grader workers finish together.
incontainers="Graded in containers: "
submit shop-order-saga "$base" "$jar2" shop shop-order-saga '{}' "$incontainers"
submit shortener-basics "$base" "$jar2" shortener shortener-basics '{}' "$incontainers"
submit cache-catalogue "$base" "$jar" cache cache-catalogue '{}' "$incontainers"
submit limiter-api-quota "$base" "$jar" limiter limiter-api-quota '{"algorithm": "sliding_log", "limit": 20, "window_ms": 2000}' "$incontainers"
submit breaker-payments "$base" "$jar" breaker breaker-payments '{}' "$incontainers"
submit "cache-catalogue (plain docker run)" "$plain_base" "$jar3" cache cache-catalogue '{}' \
	"Graded on the built-in Redis and SQLite: this server has no container engine."
# A learner's own service: the limiter's Python reference as an archive,
# built and run by the grader service in the sandbox beside its own Redis.
jar4=$(register "$base" builder@example.org)
archive=$(mktemp --suffix=.tar.gz)
tar -czf "$archive" -C labs/limiter/testdata/build/python .
id=$(curl -fs -b "$jar4" -H "Origin: $base" -F exercise=limiter-build -F language=python -F notes=smoke \
	-F "archive=@$archive;type=application/gzip" "$base/api/labs/limiter/submissions" | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')
rm -f "$archive"
[ -n "$id" ] || { echo "could not submit the limiter service" >&2; exit 1; }
subs[limiter-build]=$id bases[limiter-build]=$base jars[limiter-build]=$jar4 wants[limiter-build]="Built and run in containers: "
step "seven exercises submitted"
seconds() { date -u -d "$1" +%s.%N; }
field() { printf '%s' "$2" | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
keys=(limiter-api-quota breaker-payments cache-catalogue shop-order-saga shortener-basics limiter-build "cache-catalogue (plain docker run)")
pending=("${keys[@]}")
declare -A results
for _ in $(seq 1 600); do
	left=()
	for k in "${pending[@]}"; do
		# A poll that fails (a replica busy or restarting on a loaded
		# machine) is asked again; the deadline above still ends a wait
		# for a grade that never comes.
		res=$(curl -fs -b "${jars[$k]}" "${bases[$k]}/api/submissions/${subs[$k]}") || res=""
		case $(field status "$res") in
		graded | not_gradable | timed_out) results[$k]=$res ;;
		*) left+=("$k") ;;
		esac
	done
	[ ${#left[@]} -gt 0 ] || break
	pending=("${left[@]}")
	sleep 0.5
done
step "grading over"
failed=0
for k in "${keys[@]}"; do
	res=${results[$k]:-}
	[ -n "$res" ] || { echo "$k: still not graded" >&2; failed=1; continue; }
	status=$(field status "$res")
	score=$(printf '%s' "$res" | sed -n 's/.*"score":\([0-9]*\).*/\1/p')
	max=$(printf '%s' "$res" | sed -n 's/.*"max_score":\([0-9]*\).*/\1/p')
	env=$(field environment "$res")
	took=$(awk -v a="$(seconds "$(field finished_at "$res")")" -v b="$(seconds "$(field started_at "$res")")" 'BEGIN { print a - b }')
	printf '%-34s %-9s %3s/%-3s %5.1f s  %s\n' "$k" "$status" "$score" "$max" "$took" "$env"
	[ "$status" = graded ] || { echo "$k ended $status: $res" >&2; failed=1; }
	case $env in "${wants[$k]}"*) ;; *) echo "$k: environment \"$env\", want \"${wants[$k]}\"" >&2; failed=1 ;; esac
done
if ! grep -q '"score":100' <<<"${results[limiter-api-quota]:-}"; then
	echo "the known good limiter design did not score 100" >&2
	failed=1
fi
if ! grep -q '"score":100' <<<"${results[limiter-build]:-}"; then
	echo "the limiter's reference service did not score 100: ${results[limiter-build]:-}" >&2
	failed=1
fi
[ $failed -eq 0 ] || exit 1
echo "every lab graded by the grader service in containers, and the cache lab in a plain docker run"

# A backup as the README says (pg_dump of the live database, custom
# format), restored into a database of its own with pg_restore: it holds
# every account, submission and check result the stack has.
compose exec -T postgres pg_dump -U workbook --format=custom --no-owner workbook >"$secrets/workbook.dump"
compose exec -T postgres createdb -U workbook workbook_restored
compose exec -T postgres pg_restore -U workbook --no-owner --dbname workbook_restored <"$secrets/workbook.dump"
rows() { compose exec -T postgres psql -U workbook -d "$1" -Atc \
	"SELECT (SELECT count(*) FROM users) || ' ' || (SELECT count(*) FROM submissions) || ' ' || (SELECT count(*) FROM submission_checks)"; }
live=$(rows workbook) restored=$(rows workbook_restored)
[ "$live" = "$restored" ] || { echo "the restored backup holds $restored accounts, submissions and checks; the database $live" >&2; exit 1; }
read -r accounts subs checks <<<"$restored"
step "backed up with pg_dump ($(wc -c <"$secrets/workbook.dump") bytes) and restored: $accounts accounts, $subs submissions, $checks check results, as in the live database"
# A short chaos run (scripts/chaos.sh runs the long one): a learner and a
# visitor keep using the stack's pages, API and a lab instance through
# nginx while the replica holding that instance is killed and Redis is
# stopped for 8 s; it fails when a replica kill costs more than a second
# of requests (the lab's included: the other replica takes the instance
# over), a request waits more than 5 s, the app is not back within 2 s of
# Redis, or a page that needs no Redis fails.
step "chaos: the lab instance's replica killed, then Redis stopped"
"$chaosclient" -base "$base" -compose "docker-compose $compose_files --compatibility -p $project" -docker "$docker_cli" \
	-phases replica,redis -outage 8s -submit=false
step "compose smoke test passed"
