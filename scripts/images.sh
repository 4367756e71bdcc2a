#!/usr/bin/env bash
# Builds PostgreSQL 15 and Redis 7 container images from Debian packages, for
# machines that cannot pull the official images from a registry. The images
# behave like the official ones for our purposes (same env vars, same ports).
#
#   scripts/images.sh            build PostgreSQL and Redis images if missing
#   scripts/images.sh --force    rebuild them
#   scripts/images.sh nginx      also build nginx (for docker-compose)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
suite=${DEBIAN_SUITE:-bookworm}
force=false
with_nginx=false
for a in "$@"; do
	case $a in
	--force) force=true ;;
	nginx) with_nginx=true ;;
	esac
done

build() { # tag packages entrypoint-dir port
	local tag=$1 pkgs=$2 dir=$3 port=$4
	if ! $force && docker image inspect "$tag" >/dev/null 2>&1; then
		echo "image $tag present" >&2
		return
	fi
	local tmp
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' RETURN
	echo "building $tag from Debian $suite ($pkgs)" >&2
	mmdebstrap --variant=minbase --include="$pkgs" \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		--customize-hook="copy-in $here/images/$dir/entrypoint.sh /usr/local/bin" \
		--customize-hook='rm -rf "$1"/var/lib/postgresql/15 "$1"/etc/nginx/sites-enabled/default "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
		"$suite" "$tmp/rootfs.tar" >&2
	docker import \
		--change 'ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]' \
		--change "EXPOSE $port" \
		--change 'ENV LANG=C.UTF-8' \
		"$tmp/rootfs.tar" "$tag" >/dev/null
	echo "built $tag" >&2
}

build "${LOCAL_POSTGRES_IMAGE:-workbook-local/postgres:15}" postgresql-15,ca-certificates postgres 5432
build "${LOCAL_REDIS_IMAGE:-workbook-local/redis:7}" redis-server redis 6379
if $with_nginx; then
	build "${LOCAL_NGINX_IMAGE:-workbook-local/nginx:1.27}" nginx nginx 80
fi
