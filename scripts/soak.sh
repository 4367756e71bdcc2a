#!/usr/bin/env bash
# Soaks the embedded default (SQLite and the in-process Redis server) under
# lab load at the limits and watches its memory: the server runs from a
# fresh build on a free loopback port with a data directory of its own; a
# learner launches three lab instances over HTTP (the most a learner may
# run: two rate limiters whose windows are a second long, so they write a
# new key name every second, and a URL shortener) and runs load runs at the
# limits (5,000 requests, 200 at once, 5,000 per second, 1,000 keys) on them
# one after another, with a page view between runs, until the time is up.
# Every 30 s it prints the server's resident memory (VmRSS), goroutines (from
# the profiler on WORKBOOK_DEBUG_ADDR), open descriptors and threads.
#
# Exits non-zero when the resident memory at the end is more than 20%
# above what it was after the warm-up (the first minute), or when the
# goroutines or descriptors grew more than twofold.
#
#   scripts/soak.sh                      10 minutes
#   SOAK_MINUTES=3 scripts/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${SOAK_MINUTES:-10}
warmup=${SOAK_WARMUP_SECONDS:-60}
every=${SOAK_SAMPLE_SECONDS:-30}
max_growth=${SOAK_MAX_RSS_GROWTH_PERCENT:-20}

tmp=$(mktemp -d)
server_pid=
cleanup() {
	[ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
	[ -z "$server_pid" ] || wait "$server_pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
CGO_ENABLED=0 go build -trimpath -o "$tmp/server" ./cmd/server
port=$(free_port)
debug_port=$(free_port)
base=http://127.0.0.1:$port
WORKBOOK_ADDR=127.0.0.1:$port WORKBOOK_DATA_DIR=$tmp/data WORKBOOK_DEBUG_ADDR=127.0.0.1:$debug_port \
	WORKBOOK_LOG_FORMAT=json WORKBOOK_LOG_LEVEL=warn WORKBOOK_GRADER_WORKERS=0 DATABASE_URL= REDIS_URL= \
	"$tmp/server" >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
	curl -fs -o /dev/null "$base/readyz" && break
	kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log" >&2; exit 1; }
	sleep 0.1
done
curl -fs -o /dev/null "$base/readyz" || { echo "the server did not become ready" >&2; exit 1; }

jar=$tmp/jar
code=$(curl -s -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" -H "Origin: $base" \
	--data-urlencode email=soak@example.org --data-urlencode 'password=a long soak password' "$base/register")
[ "$code" = 303 ] || { echo "register answered $code" >&2; exit 1; }
api() { curl -fsS -b "$jar" -H "Origin: $base" -H 'Content-Type: application/json' -d "$2" "$base$1"; }
launch() { # lab design → instance id
	api "/api/labs/$1/instances" "$2" | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p'
}
instances=(
	"limiter $(launch limiter '{"algorithm": "fixed_window", "limit": 100, "window_ms": 1000}')"
	"limiter $(launch limiter '{"algorithm": "sliding_window", "limit": 100, "window_ms": 1000}')"
	"shortener $(launch shortener '{}')"
)
for i in "${instances[@]}"; do
	[ -n "${i#* }" ] || { echo "could not launch the lab instances: ${instances[*]}" >&2; exit 1; }
done
load='{"requests": 5000, "concurrency": 200, "rate_per_s": 5000, "keys": 1000}'

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status"; }
threads() { awk '/^Threads:/ {print $2}' "/proc/$server_pid/status"; }
fds() { ls "/proc/$server_pid/fd" | wc -l; }
goroutines() { curl -fs "http://127.0.0.1:$debug_port/debug/pprof/goroutine?debug=1" | sed -n '1s/.*total \([0-9]*\).*/\1/p'; }

# The load: runs at the limits, one instance after another, until the end.
end=$((SECONDS + minutes * 60))
(
	runs=0 failed=0
	while [ $SECONDS -lt $end ]; do
		for i in "${instances[@]}"; do
			[ $SECONDS -lt $end ] || break
			if api "/api/labs/${i%% *}/instances/${i#* }/load" "$load" >/dev/null 2>>"$tmp/load.err"; then
				runs=$((runs + 1))
			else
				failed=$((failed + 1))
			fi
			curl -fs -o /dev/null -b "$jar" "$base/labs/${i%% *}" || failed=$((failed + 1))
		done
	done
	echo "$runs $failed" >"$tmp/load.done"
) &
load_pid=$!

printf '%8s %10s %11s %12s %8s\n' elapsed rss_mb goroutines descriptors threads
t0=$SECONDS
base_rss= base_g= base_fd= last_rss=0 last_g=0 last_fd=0 peak=0
sample() {
	last_rss=$(rss_kb) last_g=$(goroutines) last_fd=$(fds)
	[ "$last_rss" -gt "$peak" ] && peak=$last_rss
	printf '%7ds %10.1f %11s %12s %8s\n' $((SECONDS - t0)) "$(awk -v k="$last_rss" 'BEGIN{print k/1024}')" \
		"$last_g" "$last_fd" "$(threads)"
}
sample
next=$((t0 + every))
while [ $SECONDS -lt $end ]; do
	sleep 1
	kill -0 "$server_pid" 2>/dev/null || { echo "the server died" >&2; tail -20 "$tmp/server.log" >&2; exit 1; }
	if [ -z "$base_rss" ] && [ $((SECONDS - t0)) -ge "$warmup" ]; then
		sample
		base_rss=$last_rss base_g=$last_g base_fd=$last_fd
		echo "         (warm-up over: the baseline)"
		next=$((SECONDS + every))
	elif [ $SECONDS -ge $next ]; then
		sample
		next=$((next + every))
	fi
done
wait "$load_pid" || true
sample
read -r runs failed <"$tmp/load.done"
echo "load runs: $runs at the limits ($load), failed requests: $failed"
[ -s "$tmp/load.err" ] && { echo "load errors:" >&2; sort "$tmp/load.err" | uniq -c | head -5 >&2; }
[ -n "$base_rss" ] || { echo "the soak ended before its warm-up did: SOAK_MINUTES must be longer" >&2; exit 1; }
growth=$(awk -v a="$base_rss" -v b="$last_rss" 'BEGIN{printf "%.1f", (b-a)*100/a}')
echo "RSS after warm-up $((base_rss / 1024)) MB, at the end $((last_rss / 1024)) MB (peak $((peak / 1024)) MB): ${growth}% growth (limit ${max_growth}%)"
echo "goroutines $base_g → $last_g, descriptors $base_fd → $last_fd"
status=0
if awk -v g="$growth" -v m="$max_growth" 'BEGIN{exit !(g > m)}'; then
	echo "FAIL: resident memory grew more than ${max_growth}% after the warm-up" >&2
	status=1
fi
if [ "$last_g" -gt $((base_g * 2)) ] || [ "$last_fd" -gt $((base_fd * 2)) ]; then
	echo "FAIL: goroutines or descriptors grew more than twofold" >&2
	status=1
fi
[ "$failed" -eq 0 ] || { echo "FAIL: $failed load runs or page views failed" >&2; status=1; }
[ $status -eq 0 ] && echo "soak passed"
exit $status
