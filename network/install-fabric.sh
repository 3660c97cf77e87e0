#!/usr/bin/env bash
# Builds the pinned Fabric binaries with `go install` into a git-ignored folder; a binary that is
# already there at the pinned version is not rebuilt.
#   install-fabric.sh BIN_DIR ca    Fabric CA server and client (v1.5.21)
#   install-fabric.sh BIN_DIR all   the above, then peer, orderer, configtxgen, osnadmin,
#                                   configtxlator at Fabric v3.1.5
# Each failure is one line on stderr and a non-zero exit.
set -euo pipefail

bin_dir=$(realpath -m "${1:?usage: install-fabric.sh BIN_DIR ca|all}")
what=${2:-all}
here=$(cd "$(dirname "$0")" && pwd)

FABRIC_CA_VERSION=1.5.21
# Fabric v3.1.5. The module path has no /v3 suffix, so the tag is refused and the commit is named.
FABRIC_COMMIT=86c1172bec37e6590c6b1ae6f847833df48d65fc

die() { echo "install-fabric: $*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || die "no Go toolchain on PATH (Go >= 1.26 is needed)"
mkdir -p "$bin_dir"
export GOBIN="$bin_dir" GOFLAGS=-buildvcs=false

have_ca() {
  [ -x "$bin_dir/fabric-ca-server" ] && [ -x "$bin_dir/fabric-ca-client" ] &&
    "$bin_dir/fabric-ca-server" version 2>/dev/null | grep -q "Version: $FABRIC_CA_VERSION\$"
}

if have_ca; then
  echo "fabric-ca $FABRIC_CA_VERSION: present in $bin_dir"
else
  echo "fabric-ca $FABRIC_CA_VERSION: building into $bin_dir"
  # Built through network/tools/go.mod: `go install pkg@version` also asks the module proxy for
  # the module's version list, which the proxy reachable here refuses for Fabric's modules.
  log=$(mktemp)
  if ! (cd "$here/tools" && go install github.com/hyperledger/fabric-ca/cmd/fabric-ca-server \
        github.com/hyperledger/fabric-ca/cmd/fabric-ca-client) >"$log" 2>&1; then
    die "building fabric-ca failed: $(grep -v '^go: downloading' "$log" | tail -n 1)"
  fi
  rm -f "$log"
fi

[ "$what" = ca ] && exit 0

missing=()
for cmd in peer orderer configtxgen osnadmin configtxlator; do
  [ -x "$bin_dir/$cmd" ] || missing+=("$cmd")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "fabric ${FABRIC_COMMIT:0:12}: present in $bin_dir"
  exit 0
fi
echo "fabric ${FABRIC_COMMIT:0:12}: building ${missing[*]} into $bin_dir"
log=$(mktemp)
pkgs=()
for cmd in "${missing[@]}"; do pkgs+=("github.com/hyperledger/fabric/cmd/$cmd@$FABRIC_COMMIT"); done
if ! go install "${pkgs[@]}" >"$log" 2>&1; then
  reason=$(grep -v '^go: downloading' "$log" | grep -m1 -E '403|404|not available|error|invalid' \
           || tail -n 1 "$log")
  die "building Fabric ${FABRIC_COMMIT:0:12} failed (see docs/blockers.md): ${reason}"
fi
rm -f "$log"
