#!/usr/bin/env bash
# Builds container images from Debian packages, for machines that cannot
# pull the official images from a registry: PostgreSQL 15 and Redis 7
# (behaving like the official ones for our purposes: same env vars, same
# ports), nginx, and the base images learners' services are built on.
#
#   scripts/images.sh                 build PostgreSQL and Redis images if missing
#   scripts/images.sh --force ...     rebuild them
#   scripts/images.sh nginx           also build nginx (the sandbox's relay)
#   scripts/images.sh balancer        also build the docker-compose stack's nginx
#   scripts/images.sh go python       also build the Go and Python base images
#   scripts/images.sh sandbox         nginx, go and python: what build grading needs
#
# The Go image (Debian trixie's golang-1.24) carries a read-only module
# cache holding the client libraries the starter kits use
# (github.com/redis/go-redis/v9 v9.7.3, github.com/jackc/pgx/v5 v5.7.2,
# fetched on this host through the Go module proxy when the image is
# built) and a build cache warmed by compiling them, so a learner's build
# needs no network and takes seconds. The Python image (Debian bookworm's
# python3 3.11) carries python3-redis and python3-psycopg2.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
suite=${DEBIAN_SUITE:-bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
force=false
with_nginx=false
with_balancer=false
with_go=false
with_python=false
for a in "$@"; do
	case $a in
	--force) force=true ;;
	nginx) with_nginx=true ;;
	balancer) with_balancer=true ;;
	go) with_go=true ;;
	python) with_python=true ;;
	sandbox) with_nginx=true with_go=true with_python=true ;;
	esac
done

present() { # tag
	if ! $force && docker image inspect "$1" >/dev/null 2>&1; then
		echo "image $1 present" >&2
		return 0
	fi
	return 1
}

aptopts=()
slim=(--dpkgopt='path-exclude=/usr/share/doc/*'
	--dpkgopt='path-exclude=/usr/share/man/*'
	--dpkgopt='path-exclude=/usr/share/locale/*')

# current TAG RECIPE: whether the image TAG is present and built from
# RECIPE (a digest of what it is built from, in its label); an image of an
# older recipe, or from before recipes were labelled, is built again.
current() { # tag recipe
	present "$1" || return 1
	[ "$(docker image inspect -f '{{index .Config.Labels "org.sdworkbook.recipe"}}' "$1")" = "$2" ] && return 0
	echo "image $1 is of an older recipe: building it again" >&2
	return 1
}

build() { # tag packages entrypoint-dir port [suite]
	local tag=$1 pkgs=$2 dir=$3 port=$4 from=${5:-$suite} recipe
	recipe=$(printf '%s %s %s\n' "$pkgs" "$port" "$from" | cat - "$here/images/$dir/entrypoint.sh" | sha256sum | cut -c1-16)
	current "$tag" "$recipe" && return
	local tmp
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' RETURN
	echo "building $tag from Debian $from ($pkgs)" >&2
	mmdebstrap --variant=minbase --include="$pkgs" "${slim[@]}" "${aptopts[@]}" \
		--customize-hook="copy-in $here/images/$dir/entrypoint.sh /usr/local/bin" \
		--customize-hook='rm -rf "$1"/var/lib/postgresql/15 "$1"/etc/nginx/sites-enabled/default "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
		"$from" "$tmp/rootfs.tar" >&2 </dev/null
	docker import \
		--change 'ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]' \
		--change "EXPOSE $port" \
		--change 'ENV LANG=C.UTF-8' \
		--change "LABEL org.sdworkbook.recipe=$recipe" \
		"$tmp/rootfs.tar" "$tag" >/dev/null
	echo "built $tag" >&2
}

# The Go base image. The module cache is filled on this host (which reaches
# the Go module proxy) and copied in; the build cache is warmed inside the
# image with the network off (GOPROXY=off), as learners' builds run.
# The image is labelled with a digest of what it is built from
# (scripts/images/go), and an image of an older recipe is built again.
build_go() {
	local tag=${LOCAL_GO_IMAGE:-workbook-local/go:1.24} recipe
	recipe=$(cat "$here"/images/go/go.mod "$here"/images/go/go.sum "$here"/images/go/warm.go | sha256sum | cut -c1-16)
	if present "$tag"; then
		[ "$(docker image inspect -f '{{index .Config.Labels "org.sdworkbook.recipe"}}' "$tag")" != "$recipe" ] || return 0
		echo "image $tag is of an older recipe: building it again" >&2
	fi
	local tmp t0=$SECONDS
	tmp=$(mktemp -d)
	trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' RETURN
	echo "building $tag from Debian trixie (golang-1.24)" >&2
	mkdir -p "$tmp/warm" "$tmp/mod"
	cp "$here/images/go/go.mod" "$here/images/go/go.sum" "$here/images/go/warm.go" "$tmp/warm/"
	(cd "$tmp/warm" && GOMODCACHE="$tmp/mod" GOFLAGS=-mod=mod GOTOOLCHAIN=local go mod download all)
	rm -rf "$tmp/mod/cache/vcs"
	mmdebstrap --variant=minbase --include=golang-1.24-go,ca-certificates "${slim[@]}" \
		--customize-hook='mkdir -p "$1"/usr/local/share/go' \
		--customize-hook="copy-in $tmp/mod /usr/local/share/go" \
		--customize-hook="copy-in $tmp/warm /usr/local/share/go" \
		--customize-hook='chroot "$1" env PATH=/usr/lib/go-1.24/bin:/usr/bin:/bin HOME=/root GOMODCACHE=/usr/local/share/go/mod GOCACHE=/var/cache/go-build GOPROXY=off GOSUMDB=off GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0 sh -c "cd /usr/local/share/go/warm && go build -trimpath -o /dev/null . && go version"' \
		--customize-hook='chmod -R a+rX,a-w "$1"/usr/local/share/go/mod; chmod -R a+rwX "$1"/var/cache/go-build' \
		--customize-hook='rm -rf "$1"/usr/local/share/go/warm "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
		trixie "$tmp/rootfs.tar" "$mirror" >&2 </dev/null
	docker import \
		--change 'ENV LANG=C.UTF-8' \
		--change 'ENV PATH=/usr/lib/go-1.24/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'ENV GOMODCACHE=/usr/local/share/go/mod' \
		--change 'ENV GOCACHE=/var/cache/go-build' \
		--change 'ENV GOPATH=/tmp/go' \
		--change 'ENV GOPROXY=off' \
		--change 'ENV GOSUMDB=off' \
		--change 'ENV GOFLAGS=-mod=mod' \
		--change 'ENV GOTOOLCHAIN=local' \
		--change 'ENV CGO_ENABLED=0' \
		--change 'WORKDIR /src' \
		--change 'CMD ["go", "version"]' \
		--change "LABEL org.sdworkbook.recipe=$recipe" \
		"$tmp/rootfs.tar" "$tag" >/dev/null
	echo "built $tag in $((SECONDS - t0)) s" >&2
}

# The Python base image: Debian bookworm's python3 with the Redis and
# PostgreSQL clients.
build_python() {
	local tag=${LOCAL_PYTHON_IMAGE:-workbook-local/python:3.11}
	present "$tag" && return
	local tmp t0=$SECONDS
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' RETURN
	echo "building $tag from Debian bookworm (python3, python3-redis, python3-psycopg2)" >&2
	mmdebstrap --variant=minbase --include=python3,python3-redis,python3-psycopg2,ca-certificates "${slim[@]}" \
		--customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
		bookworm "$tmp/rootfs.tar" "$mirror" >&2 </dev/null
	docker import \
		--change 'ENV LANG=C.UTF-8' \
		--change 'ENV PYTHONUNBUFFERED=1' \
		--change 'ENV PYTHONDONTWRITEBYTECODE=1' \
		--change 'WORKDIR /app' \
		--change 'CMD ["python3", "--version"]' \
		"$tmp/rootfs.tar" "$tag" >/dev/null
	echo "built $tag in $((SECONDS - t0)) s" >&2
}

build "${LOCAL_POSTGRES_IMAGE:-workbook-local/postgres:15}" postgresql-15,ca-certificates postgres 5432
build "${LOCAL_REDIS_IMAGE:-workbook-local/redis:7}" redis-server redis 6379
if $with_nginx; then
	build "${LOCAL_NGINX_IMAGE:-workbook-local/nginx:1.27}" nginx nginx 80
fi
# The stack's load balancer needs nginx 1.27.3 or later, whose upstream
# servers follow DNS ("resolve"), so a recreated replica is found; Debian's
# stable releases carry older ones.
# The mirror may serve a copy of sid older than its Release file's
# Valid-Until; the packages' signatures are checked all the same.
if $with_balancer; then
	aptopts=(--aptopt='Acquire::Check-Valid-Until "false"')
	build "${LOCAL_BALANCER_IMAGE:-workbook-local/nginx:1.30}" nginx nginx 80 "${BALANCER_SUITE:-sid}"
	aptopts=()
fi
if $with_go; then build_go; fi
if $with_python; then build_python; fi
