#!/bin/sh
# Entrypoint for the locally built Redis image: listen on every interface of
# the container (Debian's default binds loopback only) and accept the same
# arguments as the official image, with or without a leading "redis-server".
set -eu
if [ "${1:-}" = "redis-server" ]; then shift; fi
cd /tmp
exec redis-server --bind 0.0.0.0 --protected-mode no --save '' --appendonly no "$@"
