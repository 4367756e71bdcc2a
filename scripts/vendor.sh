#!/bin/sh
# Copies the minified front-end libraries from web/node_modules into
# web/static/vendor, where they are committed and embedded in the binary.
# Run after changing web/package.json:  (cd web && npm ci && npm run vendor)
set -eu
cd "$(dirname "$0")/../web"
out=static/vendor
mkdir -p "$out"
cp node_modules/htmx.org/dist/htmx.min.js "$out/htmx.min.js"
cp node_modules/uplot/dist/uPlot.iife.min.js "$out/uplot.min.js"
cp node_modules/uplot/dist/uPlot.min.css "$out/uplot.min.css"
for f in htmx.org uplot; do
	cp node_modules/$f/LICENSE* "$out/LICENSE.$f" 2>/dev/null || true
done
ls -l "$out"
