#!/usr/bin/env bash
# Install the Debian 12 packages Outpost needs to build, test and benchmark.
# Needs root. Idempotent: when every package is already installed it does not
# touch apt at all, so `make deps` is quick when re-run.
set -euo pipefail

PACKAGES=(
  # build
  build-essential gcc clang make pkg-config
  libsnmp-dev libcurl4-openssl-dev libcjson-dev zlib1g-dev libinih-dev
  libmicrohttpd-dev libsqlite3-dev libssl-dev
  # clang's -fsanitize=address,undefined,fuzzer runtimes are only a Recommends
  # of clang-14, and we install with --no-install-recommends. gcc's ASan/UBSan
  # runtimes (libasan8, libubsan1) are hard dependencies of libgcc-12-dev.
  libclang-rt-14-dev
  # unit and integration tests
  libcmocka-dev python3 python3-pytest python3-aiohttp
  snmp snmpd onesixtyone
  # tests/farm: the snmpsim recordings it serves, nftables for silent netns
  snmpsim nftables
  openssl ca-certificates iproute2 procps util-linux
  # packaging: make deb, the unit security score, man page checks
  adduser dpkg-dev systemd groff-base man-db
  # transport tests: an HTTP/2 server to talk to
  nghttp2-server
  # benchmarks: /usr/bin/time -v for CPU time and max RSS; the poll
  # benchmark's peer (bench/poll_bench.py; its postinst may enable a system
  # service on :9116 where systemd runs, the benchmark starts its own)
  time prometheus-snmp-exporter
)

log() { printf 'deps.sh: %s\n' "$*"; }

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  # "ii " = installed and configured; anything else (absent, half-configured) needs apt.
  if [[ "$status" != "ii"* ]]; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  log "all ${#PACKAGES[@]} packages already installed"
else
  if [[ $(id -u) -ne 0 ]]; then
    log "missing packages: ${missing[*]}" >&2
    log "run as root (e.g. sudo make deps)" >&2
    exit 1
  fi
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
fi

# Debian's snmpd postinst may start a system agent on 127.0.0.1:161 (usually not
# in a container without systemd). We leave it alone: the tests never use
# 127.0.0.1:161, they start their own agents on other loopback addresses.
if pgrep -x snmpd >/dev/null 2>&1; then
  log "note: snmpd processes are running (system or other users'); tests avoid their addresses"
fi

log "gcc $(gcc -dumpfullversion), $(clang --version | head -n1), net-snmp $(net-snmp-config --version 2>/dev/null || echo '?')"
