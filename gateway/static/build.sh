#!/usr/bin/env bash
# Vendor the pages' browser dependencies into gateway/static/vendor/ (git-ignored): the QR
# encoder, the API documentation page's Swagger UI, and axe-core, the accessibility checker the
# browser tests inject into every page (tests/integration/test_accessibility.py; no page
# loads it).
#
# Installs exactly what package-lock.json pins (`npm ci`, no install scripts run) and copies
# the single browser files the pages import. The pages never load anything from outside the
# gateway; without this step they still work, but show the customer id without its QR code.
#
# Usage: bash gateway/static/build.sh   (from anywhere; `make web` calls it)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

mkdir -p vendor
# qrcode-generator (MIT, Kazuhiko Arase): its ES module build, copyright header included.
cp node_modules/qrcode-generator/dist/qrcode.mjs vendor/qrcode-generator.mjs
# swagger-ui-dist (Apache-2.0, SmartBear): the API documentation page's script, style and icon,
# with its licence, so /docs works without a CDN.
mkdir -p vendor/swagger-ui
cp node_modules/swagger-ui-dist/{swagger-ui-bundle.js,swagger-ui.css,favicon-32x32.png,LICENSE,NOTICE} \
  vendor/swagger-ui/
# axe-core (MPL-2.0, Deque Systems): its single-file build with its licences.
mkdir -p vendor/axe-core
cp node_modules/axe-core/{axe.min.js,LICENSE,LICENSE-3RD-PARTY.txt} vendor/axe-core/
echo "vendored into $here/vendor: $(cd vendor && ls | tr '\n' ' ')"
