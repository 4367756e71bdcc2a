#!/bin/sh
# Entrypoint for the locally built nginx image: run in the foreground like
# the official image; the site comes from /etc/nginx/conf.d.
set -eu
if [ "${1:-}" = "nginx" ]; then shift; fi
exec nginx -g 'daemon off;' "$@"
