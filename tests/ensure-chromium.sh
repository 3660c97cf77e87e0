#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (Playwright's own browser download cannot work
# here). Installs it with apt-get when it is missing and we are root; otherwise says, in one
# line, the command to run. Usage: bash tests/ensure-chromium.sh   (`make browser` calls it)
set -euo pipefail
for candidate in /usr/lib/chromium/chromium /usr/bin/chromium; do
  if [ -x "$candidate" ]; then echo "chromium: present ($candidate)"; exit 0; fi
done
if [ "$(id -u)" -ne 0 ]; then
  echo "chromium is missing: run \`sudo apt-get install -y chromium\`, then make test again" >&2
  exit 1
fi
command -v apt-get >/dev/null 2>&1 ||
  { echo "chromium is missing and this is not a Debian system: install Chromium" >&2; exit 1; }
echo "chromium: installing Debian's package (apt-get install chromium) ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
echo "chromium: installed ($(command -v chromium))"
