#!/usr/bin/env bash
# Install the Debian 12 packages Outpost needs. Needs root when something
# is missing. Idempotent: when every package is already installed it does
# not touch apt at all, so re-running is quick.
#
#   deps.sh           build + test: what `make check` and `make asan` need,
#                     with the Windows cross toolchain, Wine and wixl
#                     (`make check` runs `make windows` and the Wine tests)
#   deps.sh --demo    build + what `make demo` runs (snmpd, python3)
#   deps.sh --bench   build + test + the benchmarks' peers (`make bench`)
#   deps.sh --windows build + the Windows set only (`make windows`)
#   deps.sh ... --list  print the set's packages, install nothing
#
# Packages installed here for their programs never leave a system service
# behind: see NO_SERVICE below.
set -euo pipefail

BUILD=(
  build-essential gcc clang make pkg-config
  libsnmp-dev libcurl4-openssl-dev libcjson-dev zlib1g-dev libinih-dev
  libmicrohttpd-dev libsqlite3-dev libssl-dev
  # the hub's PostgreSQL store (libpq); client certificates ([hub] client_ca)
  libpq-dev libgnutls28-dev
  # clang's -fsanitize=address,undefined,fuzzer runtimes are only a Recommends
  # of clang-14, and we install with --no-install-recommends. gcc's ASan/UBSan
  # runtimes (libasan8, libubsan1) are hard dependencies of libgcc-12-dev.
  libclang-rt-14-dev
)
# What the demo runs besides the build: real snmpd devices, the script.
RUN=(
  snmp snmpd python3 procps util-linux iproute2
)
TEST=(
  # unit and integration tests
  libcmocka-dev python3-pytest python3-aiohttp
  openssl ca-certificates
  # tests/farm: the snmpsim recordings it serves, nftables for silent netns
  snmpsim nftables
  # test_v3_reuse.py counts the sockets a walk opens
  strace
  # packaging: make deb, the unit security score, man page checks
  adduser dpkg-dev systemd groff-base man-db
  # transport tests: an HTTP/2 server to talk to
  nghttp2-server
  # hub group tests: a throw-away cluster (tests/integration/pg_fixture.py)
  postgresql
  # the group behind a balancer (tests/integration/haproxy_fixture.py,
  # make bench-fleet)
  haproxy
  # the console's browser tests (tests/integration/test_console.py)
  chromium chromium-driver python3-selenium
  # /metrics: promtool check metrics, and a real Prometheus scraping the hub
  # (tests/integration/test_metrics.py starts its own on loopback)
  prometheus
)
# `make windows` and the tests under Wine (tests/wine), part of the test
# set: the cross compiler and zlib, what packaging/windows/deps.sh needs to
# cross-build the other libraries from Debian's sources (dpkg-source,
# cmake, ninja), Wine, wixl.
WINDOWS=(
  gcc-mingw-w64-x86-64 libz-mingw-w64-dev dpkg-dev cmake ninja-build
  wine wine64 wixl msitools
)
# Peers the benchmarks measure Outpost against, in the same run; never
# needed to build, test or try it.
BENCH=(
  # /usr/bin/time -v for CPU time and max RSS
  time
  # the notification benchmark's peer (bench/trap_bench.py)
  snmptrapd
  # the scan benchmark's peer (bench/bench.py)
  onesixtyone
  # the poll benchmark's peer (bench/poll_bench.py starts its own)
  prometheus-snmp-exporter
)
# Services of packages this run installs that stay disabled and stopped:
# we want their programs (tests and benchmarks start their own instances
# on loopback), not a daemon on this machine. A service that was there
# before this run is left as it was.
NO_SERVICE=(snmpd prometheus-snmp-exporter postgresql haproxy prometheus)

log() { printf 'deps.sh: %s\n' "$*"; }

set_name=test list=
PACKAGES=("${BUILD[@]}" "${RUN[@]}" "${TEST[@]}" "${WINDOWS[@]}")
for arg in "$@"; do
  case "$arg" in
    --demo) PACKAGES=("${BUILD[@]}" "${RUN[@]}"); set_name=demo ;;
    --bench) PACKAGES=("${BUILD[@]}" "${RUN[@]}" "${TEST[@]}" "${WINDOWS[@]}" "${BENCH[@]}")
      set_name=bench ;;
    --windows) PACKAGES=("${BUILD[@]}" "${WINDOWS[@]}"); set_name=windows ;;
    --list) list=1 ;;
    -h|--help) sed -n '2,15s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) log "unknown option '$arg' (expected --demo, --bench, --windows or --list)" >&2
      exit 2 ;;
  esac
done
# The console (hub/console/) is built by node with the npm packages of its
# lock file; Debian's nodejs and npm when no node is on PATH already.
if ! command -v node >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi
if [[ -n $list ]]; then
  printf '%s\n' "${PACKAGES[@]}"
  exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  # "ii " = installed and configured; anything else (absent, half-configured) needs apt.
  if [[ "$status" != "ii"* ]]; then
    missing+=("$p")
  fi
done

# After installing: disable and stop the services of NO_SERVICE packages
# that this run installed.
keep_services_off() {
  local p unit
  for p in "${NO_SERVICE[@]}"; do
    [[ " ${missing[*]} " == *" $p "* ]] || continue
    unit=$p.service
    [[ -e /lib/systemd/system/$unit ]] || continue
    if [[ -d /run/systemd/system ]]; then
      systemctl disable --now "$unit" >/dev/null 2>&1 || true
    else
      deb-systemd-helper disable "$unit" >/dev/null 2>&1 || true
    fi
    log "$unit: installed for its program; left disabled and stopped"
  done
}

if ((${#missing[@]} == 0)); then
  log "all ${#PACKAGES[@]} packages ($set_name set) already installed"
else
  if [[ $(id -u) -ne 0 ]]; then
    log "missing packages: ${missing[*]}" >&2
    log "run as root (e.g. sudo make deps)" >&2
    exit 1
  fi
  log "installing ($set_name set): ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # No service starts during the install (invoke-rc.d and
  # deb-systemd-invoke ask policy-rc.d); an existing policy is the admin's.
  own_policy=
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\n# deps.sh: no service starts while it installs\nexit 101\n' \
      > /usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    own_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
  if [[ -n $own_policy ]]; then
    rm -f /usr/sbin/policy-rc.d
    trap - EXIT
  fi
  keep_services_off
fi

# The console's build tools, exactly as package-lock.json pins them
# (registry.npmjs.org), unless node_modules already matches it.
console=$(cd "$(dirname "$0")/.." && pwd)/hub/console
if [[ -f $console/package-lock.json ]]; then
  if ! command -v npm >/dev/null 2>&1; then
    log "npm is missing: the console cannot be built (apt-get install npm)" >&2
    exit 1
  fi
  if ! cmp -s "$console/package-lock.json" "$console/node_modules/.outpost-lock" 2>/dev/null; then
    log "npm ci in $console"
    (cd "$console" && npm ci --no-audit --no-fund) </dev/null
    cp "$console/package-lock.json" "$console/node_modules/.outpost-lock"
  fi
fi

# A system snmpd that was already running (it listens on 127.0.0.1:161) is
# left alone: the tests never use 127.0.0.1:161, they start their own
# agents on other loopback addresses.
if pgrep -x snmpd >/dev/null 2>&1; then
  log "note: snmpd processes are running (system or other users'); tests avoid their addresses"
fi

log "gcc $(gcc -dumpfullversion), $(clang --version | head -n1), net-snmp $(net-snmp-config --version 2>/dev/null || echo '?')"
