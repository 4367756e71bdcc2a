#!/usr/bin/env bash
# Measures the grader: the wall time to grade a good design of each lab's
# exercise in the embedded environment and in containers, and the time for
# 20 submissions enqueued at once to all end graded (real limiter designs,
# 2 workers) in each environment. Needs a Docker engine (scripts/test.sh
# starts one and builds the images).
#
#   scripts/measure-grader.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export TESTCONTAINERS_RYUK_DISABLED=${TESTCONTAINERS_RYUK_DISABLED:-true}
export TESTCONTAINERS_HOST_OVERRIDE=${TESTCONTAINERS_HOST_OVERRIDE:-127.0.0.1}
export WORKBOOK_MEASURE_GRADER=1
go test -count=1 -timeout 60m -run 'TestMeasureSuites' -v ./grader 2>&1 | grep -E 'load_test.go|^(--- |ok|FAIL)'
for env in embedded containers; do
	WORKBOOK_MEASURE_ENV=$env go test -count=1 -timeout 60m -run 'TestTwentySubmissionsAtOnce' -v ./grader 2>&1 | grep -E 'load_test.go|^(--- |ok|FAIL)'
done
