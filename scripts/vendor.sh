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

# axe-core checks pages for accessibility in the browser tests only: it is
# kept beside the test helpers that inject it, not embedded in the server.
axe=../internal/testenv/vendor
mkdir -p "$axe"
cp node_modules/axe-core/axe.min.js "$axe/axe.min.js"
cp node_modules/axe-core/LICENSE "$axe/LICENSE.axe-core"
cp node_modules/axe-core/LICENSE-3RD-PARTY.txt "$axe/LICENSE-3RD-PARTY.axe-core.txt"
ls -l "$axe"
