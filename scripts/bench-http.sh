#!/usr/bin/env bash
# Measures the hot paths through HTTP, as a browser pays for them, each
# against a baseline served in the same run by cmd/benchbase: a static
# 13 KB page, a bare net/http 301, and net/http doing one Redis GET. Pairs
# run alternately (path, baseline, path, …), the median of the runs counts,
# and the table gives the ratio. Then the latency at a fixed offered load
# (cmd/loadgen, open loop): p50 and p99 of each path against the
# baseline's p99.
#
#   scripts/bench-http.sh [embedded|postgres|all]   (default: all; postgres needs Docker)
#
# Environment: BENCH_DURATION (wrk seconds a run, 4), BENCH_RUNS (3),
# BENCH_RATE (offered req/s for the latency table, 1000;
# BENCH_RATE_GRADEBOOK for the gradebook, 20), BENCH_PATHS (a
# grep -E pattern choosing rows by name), WORKBOOK_POSTGRES_IMAGE and
# WORKBOOK_REDIS_IMAGE (default postgres:15 and redis:7 when present, else
# the local images scripts/images.sh builds).
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}
dur=${BENCH_DURATION:-4}
runs=${BENCH_RUNS:-3}
rate=${BENCH_RATE:-1000}
only=${BENCH_PATHS:-.}

if ! command -v wrk >/dev/null; then
	sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
	sudo_ apt-get update -q && sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk
fi

tmp=$(mktemp -d)
pids=()
containers=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for c in "${containers[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
CGO_ENABLED=0 go build -trimpath -o "$tmp/server" ./cmd/server
go build -trimpath -o "$tmp/benchbase" ./cmd/benchbase
go build -trimpath -o "$tmp/loadgen" ./cmd/loadgen

app=127.0.0.1:18800
static=127.0.0.1:18811
bare=127.0.0.1:18812
rget=127.0.0.1:18813
wait_for() { for _ in $(seq 1 600); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }

# wrk_rps URL [cookie] [lua] prints the requests per second of one run.
wrk_rps() {
	local args=(-t2 -c64 -d"${dur}s" --latency)
	[ -n "${2:-}" ] && args+=(-H "Cookie: $2")
	[ -n "${3:-}" ] && args+=(-s "$3")
	wrk "${args[@]}" "$1" | awk '/Requests\/sec/ {printf "%d", $2}'
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

post_lua=$tmp/post.lua
echo 'wrk.method = "POST"' >"$post_lua"

# row NAME URL COOKIE LUA BASE_NAME BASE_URL BASE_LUA GOAL [RATE]
# (RATE: the offered load of its latency row, when not BENCH_RATE)
row() {
	local name=$1 url=$2 cookie=$3 lua=$4 bname=$5 burl=$6 blua=$7 goal=$8 lrate=${9:-$rate}
	echo "$name" | grep -Eq "$only" || return 0
	local a=() b=()
	for _ in $(seq 1 "$runs"); do
		a+=("$(wrk_rps "$url" "$cookie" "$lua")")
		b+=("$(wrk_rps "$burl" "" "$blua")")
	done
	local ma mb
	ma=$(median "${a[@]}"); mb=$(median "${b[@]}")
	printf '| %s | %s | %s %s | %s | %s |\n' "$name" "$ma" "$bname" "$mb" \
		"$(awk -v x="$ma" -v y="$mb" 'BEGIN{printf "%.2f", x/(y?y:1)}')" "$goal"
	local method=GET
	[ -n "$lua" ] && method=POST
	local bmethod=GET
	[ -n "$blua" ] && bmethod=POST
	local h=()
	[ -n "$cookie" ] && h=(-H "Cookie: $cookie")
	local la lb
	# A path that answered nothing below 500 at that load has no latency.
	la=$("$tmp/loadgen" -url "$url" -method "$method" -rate "$lrate" -d "${dur}s" "${h[@]}") || la="nan nan"
	lb=$("$tmp/loadgen" -url "$burl" -method "$bmethod" -rate "$lrate" -d "${dur}s") || lb="nan nan"
	latency+=("$(awk -v n="$name" -v r="$lrate" -v b="$bname" -v a="$la" -v c="$lb" 'BEGIN{split(a,x," "); split(c,y," ");
		printf "| %s | %s | %.2f | %.2f | %s %.2f | %.1f |", n, r, x[1], x[2], b, y[2], x[2]/(y[2]?y[2]:1)}')")
}

bench() { # backend-name DATABASE_URL REDIS_URL
	local data
	data=$(mktemp -d -p "$tmp")
	# Grading in process (no containers while measuring); the loopback
	# client is a proxy, so the 100 learners of the gradebook can register
	# as 100 addresses (registration is limited per address).
	export WORKBOOK_DATA_DIR=$data DATABASE_URL=$2 REDIS_URL=$3 WORKBOOK_GRADER_ENVIRONMENT=embedded \
		WORKBOOK_TRUSTED_PROXIES=127.0.0.1
	WORKBOOK_ADDR=$app WORKBOOK_LOG_FORMAT=json "$tmp/server" >"$tmp/server-$1.log" 2>&1 &
	pids+=($!)
	local spid=$!
	wait_for "http://$app/readyz"
	curl -fs -o "$tmp/cap.html" "http://$app/lessons/cap"
	"$tmp/benchbase" -static "$tmp/cap.html" -static-addr $static -redirect-addr $bare -redis-addr $rget -redis "$3" \
		>"$tmp/benchbase-$1.log" 2>&1 &
	pids+=($!)
	local bpid=$!
	wait_for "http://$static/"

	# A learner with a limiter and a shortener (near cache + Redis) whose
	# link is hot.
	local jar=$tmp/jar-$1 email="bench-$RANDOM@example.org"
	curl -fs -o /dev/null -c "$jar" -d "email=$email&password=bench-password-long-enough" "http://$app/register"
	local cookie
	cookie=$(awk '$6 ~ /session/ {print $6 "=" $7}' "$jar")
	api() { curl -fs -b "$jar" -H 'Content-Type: application/json' -d "$2" "http://$app$1"; }
	field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
	local lim sho code
	lim=$(api /api/labs/limiter/instances '{}' | field id)
	sho=$(api /api/labs/shortener/instances '{"cache":"redis_and_local"}' | field id)
	code=$(api "/api/labs/shortener/instances/$sho/shorten" '{"url":"https://example.org/x"}' | field code)
	local redirect="http://$app/api/labs/shortener/instances/$sho/r/$code"
	curl -s -o /dev/null -b "$jar" "$redirect"
	local tcookie cid
	read -r tcookie cid < <(gradebook "$1")

	latency=()
	echo
	echo "## $1 (wrk -t2 -c64 -d${dur}s, median of $runs alternating runs)"
	echo
	echo "| path | req/s | same-run baseline req/s | ratio | goal |"
	echo "| --- | --- | --- | --- | --- |"
	local s="http://$static/"
	row "lesson /lessons/cap, signed in" "http://$app/lessons/cap" "$cookie" "" static "$s" "" "≥ 0.5"
	row "lesson /lessons/cap, anonymous" "http://$app/lessons/cap" "" "" static "$s" "" ""
	row "shortener hot redirect" "$redirect" "$cookie" "" "bare 301" "http://$bare/" "" "≥ 0.75"
	row "shortener hot redirect (vs GET)" "$redirect" "$cookie" "" "Redis GET + 301" "http://$rget/" "" "> 1"
	row "limiter decision POST …/request" "http://$app/api/labs/limiter/instances/$lim/request?key=bench" "$cookie" "$post_lua" \
		"Redis GET" "http://$rget/" "$post_lua" "≥ 0.85"
	row "lesson index /lessons" "http://$app/lessons" "$cookie" "" static "$s" "" ""
	row "question page /questions/{slug}" "http://$app/questions/$(question_slug)" "$cookie" "" static "$s" "" ""
	row "review /review" "http://$app/review" "$cookie" "" static "$s" "" ""
	row "progress /progress" "http://$app/progress" "$cookie" "" static "$s" "" ""
	row "lab page /labs/limiter" "http://$app/labs/limiter" "$cookie" "" static "$s" "" ""
	row "gradebook, class of 100 /classes/{id}" "http://$app/classes/$cid" "$tcookie" "" static "$s" "" "" "${BENCH_RATE_GRADEBOOK:-20}"
	row "healthz" "http://$app/healthz" "" "" "bare 301" "http://$bare/" "" ""
	# Last, as grading takes the machine for a while (and its writes make
	# the server read the nav's counts again): a graded submission's page.
	if echo "submission page" | grep -Eq "$only"; then
		local sub
		sub=$(submission "$jar")
		row "submission page /submissions/{id}" "http://$app/submissions/$sub" "$cookie" "" static "$s" "" ""
	fi
	echo
	echo "Latency at a fixed offered load (cmd/loadgen, ${dur}s, open loop), ms:"
	echo
	echo "| path | req/s offered | p50 | p99 | baseline p99 | p99 ratio |"
	echo "| --- | --- | --- | --- | --- | --- |"
	printf '%s\n' "${latency[@]}"
	kill "$spid" "$bpid" 2>/dev/null || true
	wait "$spid" "$bpid" 2>/dev/null || true
}

# submission JAR submits a design of the limiter's first exercise as the
# learner of JAR, waits until it is graded, and prints its id.
submission() {
	local id
	id=$(curl -fs -b "$1" -H 'Content-Type: application/json' -d '{"exercise":"limiter-api-quota","design":{}}' \
		"http://$app/api/labs/limiter/submissions" | python3 -c "import json,sys; print(json.load(sys.stdin)['id'])")
	local t
	for t in $(seq 1 1500); do
		curl -fs -b "$1" "http://$app/api/submissions/$id" | grep -Eq '"status":"(graded|not_gradable|timed_out)"' && break
		sleep 0.2
	done
	[ "$t" -lt 1500 ] || echo "submission $id: still grading after 5 minutes; measuring anyway" >&2
	echo "$id"
}

# gradebook BACKEND makes an instructor (server admin create-user) with a
# class of 100 learners who joined it, an exercise and a quiz assigned,
# and prints the instructor's session cookie and the class's id.
gradebook() {
	local email="teach-$RANDOM@example.org" tjar=$tmp/jar-teacher-$1
	printf 'bench-password-long-enough\n' >"$tmp/pw"
	"$tmp/server" admin create-user --email "$email" --password-file "$tmp/pw" --role instructor >/dev/null
	curl -fs -o /dev/null -c "$tjar" -d "email=$email&password=bench-password-long-enough" "http://$app/login"
	local class cid code
	class=$(curl -fs -b "$tjar" -H 'Content-Type: application/json' -d '{"name":"Bench"}' "http://$app/api/classes")
	cid=$(echo "$class" | python3 -c "import json,sys; print(json.load(sys.stdin)['id'])")
	code=$(echo "$class" | python3 -c "import json,sys; print(json.load(sys.stdin)['join_code'])")
	for a in exercise:limiter-api-quota quiz:cap; do
		curl -fs -o /dev/null -b "$tjar" -d "assignment=$a" "http://$app/classes/$cid/assignments"
	done
	for i in $(seq 1 100); do
		(
			j=$tmp/jar-l$i-$1
			curl -fs -o /dev/null -c "$j" -H "X-Forwarded-For: 10.9.$((i / 250)).$((i % 250 + 1))" \
				-d "email=l$i-$RANDOM@example.org&password=bench-password-long-enough" "http://$app/register"
			curl -fs -o /dev/null -b "$j" -H 'Content-Type: application/json' -d "{\"join_code\":\"$code\"}" \
				"http://$app/api/classes/join"
		) &
		if [ $((i % 8)) = 0 ]; then wait; fi
	done
	wait
	echo "$(awk '$6 ~ /session/ {print $6 "=" $7}' "$tjar") $cid"
}

question_slug() {
	curl -fs "http://$app/questions" | grep -o 'href="/questions/[a-z0-9-]*"' | head -1 | sed 's|href="/questions/||; s|"||'
}

if [ "$which" = embedded ] || [ "$which" = all ]; then
	bench embedded "" ""
fi
if [ "$which" = postgres ] || [ "$which" = all ]; then
	if ! docker info >/dev/null 2>&1; then
		echo "Docker does not answer: PostgreSQL + Redis skipped" >&2
		exit 0
	fi
	# The official images when present, else the ones scripts/images.sh
	# builds from Debian packages (a machine without a registry).
	pick() { if [ -n "${!1:-}" ]; then echo "${!1}"; elif docker image inspect "$2" >/dev/null 2>&1; then echo "$2"; else echo "$3"; fi; }
	WORKBOOK_POSTGRES_IMAGE=$(pick WORKBOOK_POSTGRES_IMAGE postgres:15 workbook-local/postgres:15)
	WORKBOOK_REDIS_IMAGE=$(pick WORKBOOK_REDIS_IMAGE redis:7 workbook-local/redis:7)
	pg=bench-pg-$$ rd=bench-redis-$$
	containers+=("$pg" "$rd")
	docker run -d --name "$pg" -p 127.0.0.1:18821:5432 -e POSTGRES_USER=workbook -e POSTGRES_PASSWORD=workbook \
		-e POSTGRES_DB=workbook "${WORKBOOK_POSTGRES_IMAGE:-postgres:15}" >/dev/null
	docker run -d --name "$rd" -p 127.0.0.1:18822:6379 "${WORKBOOK_REDIS_IMAGE:-redis:7}" \
		redis-server --bind 0.0.0.0 --protected-mode no >/dev/null
	for _ in $(seq 1 120); do docker exec "$pg" pg_isready -U workbook -d workbook >/dev/null 2>&1 && break; sleep 0.5; done
	sleep 1
	bench "postgres+redis" "postgres://workbook:workbook@127.0.0.1:18821/workbook?sslmode=disable" "redis://127.0.0.1:18822/0"
fi
