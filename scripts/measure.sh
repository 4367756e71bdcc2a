#!/usr/bin/env bash
# Measures the embedded default as a user meets it: cold start until /readyz
# answers 200 (with a fresh data dir, so migrations run), and resident memory
# after a few seconds idle. The baseline, measured in the same run, is the
# same binary printing --help: the cost of starting the process at all.
#
#   scripts/measure.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
bin=$(mktemp -d)/server
CGO_ENABLED=0 go build -trimpath -o "$bin" ./cmd/server
port=18765
ms() { echo $(( $(date +%s%N) / 1000000 )); }

base_total=0
start_total=0
for i in $(seq 1 "$runs"); do
	t0=$(ms); "$bin" --help >/dev/null; t1=$(ms)
	base_total=$((base_total + t1 - t0))

	data=$(mktemp -d)
	t0=$(ms)
	WORKBOOK_ADDR=127.0.0.1:$port WORKBOOK_DATA_DIR=$data "$bin" >/dev/null 2>&1 &
	pid=$!
	until curl -fs -o /dev/null "http://127.0.0.1:$port/readyz"; do sleep 0.005; done
	t1=$(ms)
	start_total=$((start_total + t1 - t0))
	if [ "$i" -eq "$runs" ]; then
		sleep 5
		rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
	fi
	kill -TERM $pid; wait $pid || true
	rm -rf "$data"
done
base=$((base_total / runs)); start=$((start_total / runs))
echo "process start (--help), mean of $runs: ${base} ms"
echo "cold start to 200 from /readyz, mean of $runs: ${start} ms ($(awk -v a=$start -v b=$base 'BEGIN{printf "%.1f", a/(b?b:1)}')x the process start)"
echo "idle RSS after 5 s: $((rss / 1024)) MiB"
