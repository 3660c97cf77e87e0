#!/usr/bin/env bash
# The shared-state tests start a throwaway PostgreSQL from Debian's binaries (initdb, pg_ctl:
# network/postgres.py looks in PATH, then /usr/lib/postgresql/*/bin). Installs Debian's
# package when neither has them and we are root; otherwise says, in one line, the command to
# run. Usage: bash tests/ensure-postgres.sh   (`make postgres` calls it)
set -euo pipefail
if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
  echo "postgresql: present ($(command -v initdb))"; exit 0
fi
for candidate in /usr/lib/postgresql/*/bin; do
  if [ -x "$candidate/initdb" ] && [ -x "$candidate/pg_ctl" ]; then
    echo "postgresql: present ($candidate)"; exit 0
  fi
done
if [ "$(id -u)" -ne 0 ]; then
  echo "postgresql is missing: run \`sudo apt-get install -y postgresql\`, then make test again" >&2
  exit 1
fi
command -v apt-get >/dev/null 2>&1 ||
  { echo "postgresql is missing and this is not a Debian system: install PostgreSQL" >&2; exit 1; }
echo "postgresql: installing Debian's package (apt-get install postgresql) ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql >/dev/null
echo "postgresql: installed ($(ls -d /usr/lib/postgresql/*/bin | tail -1))"
