#!/usr/bin/env bash
# Grades every exercise's reference designs (the good one and the classic
# mistakes) many times on a deliberately loaded machine — a busy process
# on every core, two gradings at a time — against real
# Redis and PostgreSQL, and prints a table: exercise × design, the scores
# seen and the failed checks seen. A trustworthy suite shows one score and
# one set of failed checks per row. The test command runs a short version
# of the same test (1 grading per design, beside the fuzzing). Needs a Docker engine and the
# images (scripts/test.sh starts one and builds them).
#
#   scripts/grading-stability.sh [GRADINGS_PER_DESIGN]     (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
export TESTCONTAINERS_RYUK_DISABLED=${TESTCONTAINERS_RYUK_DISABLED:-true}
export TESTCONTAINERS_HOST_OVERRIDE=${TESTCONTAINERS_HOST_OVERRIDE:-127.0.0.1}
export WORKBOOK_STABILITY_REPEATS=${1:-5}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
go test -count=1 -timeout 90m -run '^TestGradingStability$' -v ./grader >"$out" 2>&1 || status=$?
# The table and the summary, without the test framework's indentation.
sed -n -e 's/^ *stability_test.go:[0-9]*: //p' -e '/^ *|/p' -e '/^--- /p' -e '/^\(ok\|FAIL\)/p' "$out" | sed 's/^ *//'
if [ "$status" -ne 0 ]; then
	grep -E 'stability_test.go:[0-9]+: .*(failed|differ|error)' "$out" | sed 's/^ *//' || true
fi
exit "$status"
