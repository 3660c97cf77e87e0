#!/usr/bin/env bash
# Vendor the pages' browser dependencies into gateway/static/vendor/ (git-ignored).
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
echo "vendored into $here/vendor: $(cd vendor && ls | tr '\n' ' ')"
