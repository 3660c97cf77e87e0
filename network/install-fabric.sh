#!/usr/bin/env bash
# Builds the pinned Fabric binaries into a git-ignored folder; what is already there at the
# pinned version is not rebuilt.
#   install-fabric.sh BIN_DIR ca    Fabric CA server and client (v1.5.21)
#   install-fabric.sh BIN_DIR all   the above, then peer, orderer, configtxgen, configtxlator
#                                   and discover at Fabric v2.1.1, and Fabric's default
#                                   core.yaml / orderer.yaml into BIN_DIR/../config
# Each build goes through a module-local go.mod under network/tools/ that names every
# dependency by version (`go install pkg@version` asks the proxy for version lists it refuses).
# Each failure is one line on stderr and a non-zero exit.
set -euo pipefail

bin_dir=$(realpath -m "${1:?usage: install-fabric.sh BIN_DIR ca|all}")
what=${2:-all}
here=$(cd "$(dirname "$0")" && pwd)

FABRIC_CA_VERSION=1.5.21
FABRIC_VERSION=2.1.1
FABRIC_MODULE=github.com/hyperledger/fabric
FABRIC_COMMANDS=(peer orderer configtxgen configtxlator discover)

die() { echo "install-fabric: $*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || die "no Go toolchain on PATH (Go >= 1.26 is needed)"
mkdir -p "$bin_dir"
export GOFLAGS=-buildvcs=false

# go_build MODULE_DIR WHAT LDFLAGS PACKAGE...: one readable line on failure.
go_build() {
  local dir=$1 what=$2 ldflags=$3; shift 3
  local log; log=$(mktemp)
  local started=$SECONDS
  # Progress: `go build -v` names each package it compiles; the total is every package the
  # commands depend on (cached ones are not compiled again, so the count may end below it).
  local total
  total=$(cd "$here/tools/$dir" && go list -deps "$@" 2>/dev/null | wc -l) || total=0
  (cd "$here/tools/$dir" && go build -v -ldflags "$ldflags" -o "$bin_dir/" "$@") >"$log" 2>&1 &
  local pid=$! status=0 report=$((SECONDS + 10))
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    local elapsed=$((SECONDS - started))
    if [ "$SECONDS" -ge "$report" ]; then
      report=$((SECONDS + 10))
      local done_n; done_n=$(grep -cv '^go: ' "$log" || true)
      local left=""
      if [ "$done_n" -gt 0 ] && [ "$total" -gt "$done_n" ]; then
        left=", at most $(( (total - done_n) * elapsed / done_n )) s left"
      fi
      echo "$what: ${done_n} of up to ${total} packages compiled in ${elapsed} s" \
           "($(( done_n / elapsed )) per s${left})"
    fi
  done
  wait "$pid" || status=$?
  if [ "$status" -ne 0 ]; then
    local reason
    reason=$(grep -v '^go: downloading' "$log" | grep -m1 -E '403|404|not available|error|cannot|undefined' \
             || tail -n 1 "$log")
    rm -f "$log"
    die "building $what failed: ${reason}"
  fi
  rm -f "$log"
  echo "$what: built in $((SECONDS - started)) s"
}

have_ca() {
  [ -x "$bin_dir/fabric-ca-server" ] && [ -x "$bin_dir/fabric-ca-client" ] &&
    "$bin_dir/fabric-ca-server" version 2>/dev/null | grep -q "Version: $FABRIC_CA_VERSION\$"
}

if have_ca; then
  echo "fabric-ca $FABRIC_CA_VERSION: present in $bin_dir"
else
  echo "fabric-ca $FABRIC_CA_VERSION: building into $bin_dir"
  go_build fabric-ca "fabric-ca $FABRIC_CA_VERSION" "" \
    github.com/hyperledger/fabric-ca/cmd/fabric-ca-server github.com/hyperledger/fabric-ca/cmd/fabric-ca-client
fi

[ "$what" = ca ] && exit 0

have_fabric() {
  for cmd in "${FABRIC_COMMANDS[@]}"; do [ -x "$bin_dir/$cmd" ] || return 1; done
  "$bin_dir/peer" version 2>/dev/null | grep -q "Version: $FABRIC_VERSION\$" &&
    "$bin_dir/orderer" version 2>/dev/null | grep -q "Version: $FABRIC_VERSION\$" &&
    [ -f "$bin_dir/../config/core.yaml" ] && [ -f "$bin_dir/../config/orderer.yaml" ]
}

if have_fabric; then
  echo "fabric $FABRIC_VERSION: present in $bin_dir"
  exit 0
fi
echo "fabric $FABRIC_VERSION: building ${FABRIC_COMMANDS[*]} into $bin_dir (about 2 minutes cold)"
# Without -X the binaries call themselves "latest"; the module zip carries no commit, so the
# module version stands in for it.
ldflags="-X $FABRIC_MODULE/common/metadata.Version=$FABRIC_VERSION"
ldflags+=" -X $FABRIC_MODULE/common/metadata.CommitSHA=v$FABRIC_VERSION+incompatible"
pkgs=()
for cmd in "${FABRIC_COMMANDS[@]}"; do pkgs+=("$FABRIC_MODULE/cmd/$cmd"); done
go_build fabric "fabric $FABRIC_VERSION" "$ldflags" "${pkgs[@]}"
# Fabric's own defaults, from the module the binaries were built from; the network overrides
# them through environment variables and a derived core.yaml (network/nodes.py).
module_dir=$(cd "$here/tools/fabric" && go list -m -f '{{.Dir}}' "$FABRIC_MODULE") ||
  die "cannot locate the $FABRIC_MODULE module in the module cache"
mkdir -p "$bin_dir/../config"
install -m 0644 "$module_dir/sampleconfig/core.yaml" "$module_dir/sampleconfig/orderer.yaml" \
  "$bin_dir/../config/"
