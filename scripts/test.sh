#!/usr/bin/env bash
# Runs every test of the workbook. On a fresh Debian machine it first
# installs and starts what the tests need: the Docker engine (docker.io),
# mmdebstrap to build container images without a registry, and Chromium for
# the browser journeys. Safe to run again: it only does what is missing.
#
#   scripts/test.sh                 everything
#   scripts/test.sh ./web/...       only some packages (passed to go test)
#
# Environment: WORKBOOK_SKIP_COMPOSE=1 skips the docker-compose smoke test
# (it runs by default); WORKBOOK_POSTGRES_IMAGE / WORKBOOK_REDIS_IMAGE choose images
# (default: the official postgres:15 and redis:7 when they can be pulled,
# otherwise images built locally from Debian packages); FUZZTIME (default
# 10s) bounds each fuzz target's run; set it to 0 to skip fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
export t0
# Each line says how long the run has taken so far, to see where time goes.
log() { printf '\033[1m==> [%4d s] %s\033[0m\n' "$(($(date +%s) - t0))" "$*" >&2; }

sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. Packages.
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v chromium >/dev/null 2>&1 || [ -n "${WORKBOOK_CHROMIUM:-}" ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
	log "installing ${missing[*]}"
	sudo_ apt-get update -q
	sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" ca-certificates
fi
command -v go >/dev/null 2>&1 || { echo "Go is required (see README)" >&2; exit 1; }

# 2. The Docker engine.
if ! docker info >/dev/null 2>&1; then
	log "starting dockerd"
	sudo_ sh -c 'nohup dockerd >/var/log/workbook-dockerd.log 2>&1 &'
	for _ in $(seq 1 60); do
		docker info >/dev/null 2>&1 && break
		sleep 0.5
	done
	docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/workbook-dockerd.log" >&2; exit 1; }
fi

# 2b. Room on disk: a run writes several GB (race and fuzzing builds,
# images, containers). Go's build cache only forgets entries after five
# days, so on a machine that runs often it fills the disk first: below
# 15 GB free, the build cache and Docker's build cache and stopped
# containers are cleared (the next build is slower, nothing else is lost).
free_gb() { df -Pk "$1" | awk 'NR == 2 { print int($4 / 1048576) }'; }
gocache=$(go env GOCACHE)
mkdir -p "$gocache"
if [ "$(free_gb "$gocache")" -lt 15 ]; then
	log "only $(free_gb "$gocache") GB free: clearing Go's build cache and Docker's leftovers"
	go clean -cache
	docker container prune -f >/dev/null 2>&1 || true
	docker builder prune -f >/dev/null 2>&1 || true
	log "$(free_gb "$gocache") GB free"
fi

# 3. Images: the official ones when a registry answers, else local builds.
pick_image() { # var official local
	local var=$1 official=$2 local_tag=$3
	if [ -n "${!var:-}" ]; then return; fi
	if docker image inspect "$official" >/dev/null 2>&1 || timeout 30 docker pull -q "$official" >/dev/null 2>&1; then
		export "$var=$official"
	else
		export "$var=$local_tag"
	fi
}
pick_image WORKBOOK_POSTGRES_IMAGE postgres:15 workbook-local/postgres:15
pick_image WORKBOOK_REDIS_IMAGE redis:7 workbook-local/redis:7
if [[ "$WORKBOOK_POSTGRES_IMAGE $WORKBOOK_REDIS_IMAGE" == *workbook-local/* ]]; then
	log "no registry: using images built from Debian packages"
	LOCAL_POSTGRES_IMAGE=workbook-local/postgres:15 LOCAL_REDIS_IMAGE=workbook-local/redis:7 scripts/images.sh
fi
# The sandbox's relay (nginx) and the base images learners' services are
# built on are always built here: the official Go and Python images hold no
# client libraries, and a learner's build has no network to fetch them.
scripts/images.sh sandbox
export WORKBOOK_GO_IMAGE=${WORKBOOK_GO_IMAGE:-workbook-local/go:1.24}
export WORKBOOK_PYTHON_IMAGE=${WORKBOOK_PYTHON_IMAGE:-workbook-local/python:3.11}
log "images: $WORKBOOK_POSTGRES_IMAGE, $WORKBOOK_REDIS_IMAGE, $WORKBOOK_GO_IMAGE, $WORKBOOK_PYTHON_IMAGE"
# Docker is started above: a test that needs it fails rather than skips.
export WORKBOOK_REQUIRE_DOCKER=1

# 4. testcontainers: no reaper image without a registry, and mapped ports
# are on this host even when it looks like a container.
export TESTCONTAINERS_RYUK_DISABLED=true
export TESTCONTAINERS_HOST_OVERRIDE=${TESTCONTAINERS_HOST_OVERRIDE:-127.0.0.1}
export WORKBOOK_CHROMIUM=${WORKBOOK_CHROMIUM:-$(command -v chromium)}

# 5. Static checks.
log "go vet"
go vet ./...
log "templ output is up to date"
go tool templ generate >/dev/null
if [ -d .git ] && ! git diff --quiet -- '*_templ.go'; then
	git --no-pager diff --stat -- '*_templ.go'
	echo "generated templ code was stale: run 'go tool templ generate' and commit" >&2
	exit 1
fi

# 6. Tests of some packages only: with the race detector, one after another.
if [ $# -gt 0 ]; then
	log "go test -race $*"
	go test -race -count=1 -timeout 20m "$@"
	log "all tests passed in $(($(date +%s) - t0)) s"
	exit 0
fi

# 7. Every test. The groups below run side by side, each into a log of its
# own: much of their time is spent waiting (on containers, on image
# builds, on services' real-time checks, on the fuzz engine's fixed time),
# and what one waits out the others use. Every group runs to its end; the
# command fails when any group failed, and prints that group's log.
logs=$(mktemp -d)
declare -A group_pid=()
failed=()
group() { # name command...: starts a group in the background
	local name=$1
	shift
	log "$name: started"
	(
		rc=0
		TIMEFORMAT='%0R s, %0U+%0S s of CPU'
		{ time "$@" >"$logs/$name.log" 2>&1 || rc=$?; } 2>"$logs/$name.time"
		log "$name: ended (exit $rc) after $(cat "$logs/$name.time")"
		exit "$rc"
	) &
	group_pid[$name]=$!
}
wait_group() { # name: waits for a group and reports it
	local name=$1
	if wait "${group_pid[$name]}"; then
		grep -E '^(ok|---|FAIL)|^\[[0-9]+ s\]|==>' "$logs/$name.log" >&2 || true
	else
		cat "$logs/$name.log" >&2
		echo "tests failed: $name" >&2
		failed+=("$name")
	fi
	unset "group_pid[$name]"
}
kill_tree() { # pid: the process and everything it started
	local child
	for child in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$child"; done
	kill "$1" 2>/dev/null || true
}
# An interrupted or failed run leaves no group running.
trap 'for p in "${group_pid[@]}"; do kill_tree "$p"; done; rm -rf "$logs"' EXIT

# Each lab's build exercise is proven by building learners' services and
# grading them in the sandbox: the time goes to image builds and to the
# services' real-time checks, not to this process. They run without the
# race detector; the sandbox's own tests run under it in "race".
sandboxed='^(TestBuildExercise|TestBuildExerciseStarterKits)$'
group build-exercises go test -count=1 -timeout 20m -run "$sandboxed" ./labs/...
# Build-exercise verdicts under load run with the stability test (below).
loaded='^TestBuildExerciseUnderLoad$'
# The production shape: docker-compose with two replicas behind nginx. It
# waits on its containers and its grader most of the time.
if [ "${WORKBOOK_SKIP_COMPOSE:-}" != 1 ]; then
	group compose-smoke scripts/compose-smoke.sh
fi
# Every package but web under the race detector; then each lab's
# reference designs (the good one and the classic mistakes of every
# exercise) graded by its check suites, in process and against a service
# reached by URL, on both backends: hundreds of whole gradings, which the
# race detector slows five- to tenfold. They run without it, after the
# race run in the same group, so the machine carries no more test
# processes while the build exercises grade services on real time; the
# race detector covers the same code in each lab's other tests
# (concurrent requests, crashes, faults, a suite's broken steps), and the
# stability test below grades every reference again on a loaded machine.
references='^(TestSuiteReferences|TestLadderReferences|TestSuiteGradesAServiceByURL)$'
race_then_references() { # both runs, whatever the first gave
	local rc=0
	go test -race -count=1 -timeout 20m -skip "$sandboxed|$loaded|$references" $(go list ./... | grep -vx 'github.com/sdworkbook/workbook/web') || rc=$?
	go test -count=1 -timeout 20m -run "$references" ./labs/... || rc=$?
	return "$rc"
}
group race race_then_references
# The web package's tests are request flows over the pure-Go SQLite, which
# the race detector slows about sixfold (90 s become 500 s): they run
# without it, and its tests of concurrent requests (bursts, streams, the
# hashing queue, reconfiguring) run again with it.
web_tests() { # both runs, whatever the first gave
	local rc=0
	go test -count=1 -timeout 20m ./web || rc=$?
	go test -race -count=1 -timeout 20m -run 'Burst|Stream|Capacity|Race|HashesAtTheRealCost' ./web || rc=$?
	return "$rc"
}
group web web_tests

# Grades you can trust: every exercise's reference designs graded on a
# deliberately loaded machine must score what their references say (each
# was graded once more by its lab's tests in "race";
# scripts/grading-stability.sh runs a longer version), and the limiter
# build exercise's services must fail exactly their named checks among
# those that judge runs of requests on real time. It runs beside the
# fuzzing, whose workers are part of the load; without the race detector,
# which "race" applies to this code. The fuzzing starts when the race and
# web groups, which keep the cores busy, have ended; the stability test
# when the build exercises have ended too: its busy processes would
# otherwise be load on the learners' services, which those tests grade on
# real time.
stability() {
	WORKBOOK_STABILITY_REPEATS=${WORKBOOK_STABILITY_REPEATS:-1} \
		go test -count=1 -timeout 30m -run '^TestGradingStability$' ./grader/ &&
		go test -count=1 -timeout 30m -run "$loaded" ./labs/limiter/
}

# A short fuzzing run of every parser of user input: the targets of a
# package one after another (it compiles once), three packages at a time.
fuzztime=${FUZZTIME:-10s}
fuzz_one() { # package target
	local out
	if ! out=$(go test -run '^$' -fuzz "^$2\$" -fuzztime "$fuzztime" "$1" 2>&1); then
		# A real finding writes its input under testdata/fuzz and fails
		# every time. The fuzz engine itself now and then ends a run with a
		# bare FAIL and no input; that run is tried once more.
		if [[ "$out" == *"Failing input written"* ]] ||
			! out=$(go test -run '^$' -fuzz "^$2\$" -fuzztime "$fuzztime" "$1" 2>&1); then
			printf 'fuzz %s %s failed:\n%s\n' "$1" "$2" "$out" >&2
			return 1
		fi
		log "fuzz $2: the engine's first run ended without a finding; the second passed"
	fi
	if [[ "$out" == *"no fuzz tests to fuzz"* ]]; then
		echo "fuzz: $1 has no target $2" >&2
		return 1
	fi
	log "fuzz $2 ($fuzztime): no finding"
}
fuzz_package() { # package targets...: one after another, so it compiles once
	local pkg=$1 target
	shift
	for target in "$@"; do fuzz_one "$pkg" "$target" || return 1; done
}
fuzz_all() {
	export -f fuzz_one fuzz_package log
	export fuzztime
	# One line per package: the package, then its fuzz targets.
	local targets pkg dir fs
	targets=$(for pkg in $(go list ./...); do
		dir=$(go list -f '{{.Dir}}' "$pkg")
		# (no blank at the end of a line: xargs -L would join the next one to it)
		fs=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u | paste -sd' ')
		[ -z "$fs" ] || echo "$pkg $fs"
	done)
	log "fuzzing every parser of user input in $(wc -l <<<"$targets") packages, three at a time"
	xargs -P 3 -L 1 bash -c 'fuzz_package "$@"' _ <<<"$targets"
}

wait_group race
wait_group web
[ "$fuzztime" = "0" ] || group fuzz fuzz_all
wait_group build-exercises
group stability stability
[ "$fuzztime" = "0" ] || wait_group fuzz
wait_group stability
[ "${WORKBOOK_SKIP_COMPOSE:-}" = 1 ] || wait_group compose-smoke
if [ ${#failed[@]} -gt 0 ]; then
	echo "FAILED: ${failed[*]} ($(($(date +%s) - t0)) s)" >&2
	exit 1
fi
log "all tests passed in $(($(date +%s) - t0)) s"
