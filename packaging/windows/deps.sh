#!/usr/bin/env bash
# Cross-build the Windows agent's libraries from Debian's source packages,
# at the versions the Linux build uses, into a cache keyed by those
# versions (and this script), so `make windows` rebuilds in seconds.
#
#   packaging/windows/deps.sh            build what the cache lacks, print its dir
#   packaging/windows/deps.sh LIB...     only these (zlib openssl netsnmp curl
#                                        cjson inih cmocka)
#   packaging/windows/deps.sh --prefix   print the cache dir, build nothing
#
# Libraries (static unless said): OpenSSL's libcrypto (net-snmp's USM),
# net-snmp's libnetsnmp (no agent, no apps), libcurl as a DLL with Schannel
# (the agent loads it at run time, transport/curl_dl.c), cJSON, inih,
# cmocka (unit tests); zlib comes from Debian's libz-mingw-w64-dev.
#
# Environment:
#   OUTPOST_WIN_CACHE    cache root (default $XDG_CACHE_HOME/outpost-win,
#                        else ~/.cache/outpost-win)
#   OUTPOST_WIN_SOURCES  a directory of source files to use when apt cannot
#                        fetch a package (NAME_UPSTREAM.orig.tar.*; default
#                        /var/cache/outpost-win-sources); libinih without
#                        either is built from Outpost's own parser
#                        (packaging/windows/ini)
#   JOBS                 parallel jobs (default 2)
# The toolchain packages come from packaging/deps.sh --windows (run as root
# when one is missing).
set -euo pipefail

HOST=x86_64-w64-mingw32
JOBS=${JOBS:-2}
SOURCES_DIR=${OUTPOST_WIN_SOURCES:-/var/cache/outpost-win-sources}
# Called from make: its flags and jobserver are not for these builds.
unset MAKEFLAGS MFLAGS MAKELEVEL
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT_DIR=$(cd "$HERE/../.." && pwd)
log() { printf 'win-deps: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Source package : the Linux build's binary package whose version we follow.
SOURCES=(
  openssl:libssl-dev
  net-snmp:libsnmp-dev
  curl:libcurl4-openssl-dev
  cjson:libcjson-dev
  libinih:libinih-dev
  cmocka:libcmocka-dev
)
TOOLS=("$HOST-gcc" cmake dpkg-source perl make)

ALL_LIBS=(zlib openssl netsnmp curl cjson inih cmocka)
only_prefix= only=()
for arg in "$@"; do
  case "$arg" in
    --prefix) only_prefix=1 ;;
    -h|--help) sed -n '2,24s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) [[ " ${ALL_LIBS[*]} " == *" $arg "* ]] ||
         die "unknown argument '$arg' (expected --prefix or a library: ${ALL_LIBS[*]})"
       only+=("$arg") ;;
  esac
done

missing_tools() {
  local t
  for t in "${TOOLS[@]}"; do command -v "$t" >/dev/null || echo "$t"; done
}
if [[ -z $only_prefix && -n $(missing_tools) ]]; then
  [[ $(id -u) -eq 0 ]] || die "missing $(missing_tools | xargs); run 'sudo bash packaging/deps.sh --windows'"
  bash "$ROOT_DIR/packaging/deps.sh" --windows
fi

# The versions: those of the Linux build's packages (dpkg), so the
# Windows build speaks the same net-snmp and parses the same INI dialect.
declare -A WANT
for entry in "${SOURCES[@]}"; do
  src=${entry%%:*} bin=${entry#*:}
  v=$(dpkg-query -W -f='${Version}' "$bin" 2>/dev/null || true)
  [[ -n $v ]] || v=$(apt-cache policy "$bin" 2>/dev/null | sed -n 's/^ *Candidate: //p')
  [[ -n $v && $v != "(none)" ]] || die "no version known for $bin (the Linux build's $src)"
  WANT[$src]=$v
done

# The cache: one directory per set of versions (and cross compiler), and
# in it one stamp per library naming its version and recipe (the function
# that builds it, below, and those of the libraries it links), so that a
# changed recipe rebuilds that library only.
# CACHE_EPOCH: raised when the recipes change so much that another
# branch's cache (same versions, older recipes) must not be rebuilt in
# place under it.
CACHE_EPOCH=2
key_input() {
  local s
  [[ $CACHE_EPOCH == 1 ]] || echo "epoch=$CACHE_EPOCH"
  for s in "${SOURCES[@]}"; do echo "${s%%:*}=${WANT[${s%%:*}]}"; done
  "$HOST-gcc" -dumpfullversion 2>/dev/null || echo nogcc
  dpkg-query -W -f='${Version}\n' libz-mingw-w64-dev 2>/dev/null || true
}
CACHE_ROOT=${OUTPOST_WIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/outpost-win}
CACHE=$CACHE_ROOT/$(key_input | sha256sum | cut -c1-16)
P=$CACHE/prefix
W=$CACHE/work.$$   # this run's sources and build trees, removed at the end
if [[ -n $only_prefix ]]; then echo "$CACHE"; exit 0; fi
mkdir -p "$P/include" "$P/lib" "$P/bin" "$CACHE/stamps"

# Lazily, when a library must be built: a private deb-src list beside the
# machine's apt configuration (the same archives the binary packages come
# from; nothing is written to /etc/apt).
APT=(-o "Dir::Etc::sourceparts=$W/apt/sources" -o Dir::Etc::sourcelist=/dev/null
     -o "Dir::State::Lists=$W/apt/lists" -o "Dir::Cache=$W/apt/cache"
     -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
apt_ready=
apt_prepare() {
  [[ -z $apt_ready ]] || return 0
  local f d=$W/apt
  rm -rf "$d"
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/sources"
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -e $f ]] || continue
    # deb822 stanzas of Debian's archives, as deb-src.
    awk 'BEGIN{RS=""; ORS="\n\n"} /URIs:[^\n]*debian/ && /Types: deb/ {
           sub(/Types: deb( deb-src)?/, "Types: deb-src"); print}' "$f"
  done > "$d/sources/debian-src.sources"
  { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } |
    sed -n 's/^deb \(.*debian.*\)/deb-src \1/p' > "$d/sources/debian-src.list"
  grep -q 'deb-src' "$d/sources/"* ||
    die "no Debian archive found in /etc/apt to take deb-src entries from"
  apt-get "${APT[@]}" -qq update >"$d/update.log" 2>&1 ||
    { cat "$d/update.log" >&2; die "apt-get update of the deb-src lists failed"; }
  apt_ready=1
}

# The source versions to try, best first: the Linux one if the archive
# still has it, then the archive's others of the same upstream version
# (security updates), newest first, then the rest. A mirror may lack some.
candidate_versions() {
  local src=$1 want=$2 have up
  have=$(apt-cache "${APT[@]}" showsrc "$src" 2>/dev/null | sed -n 's/^Version: //p' | sort -u)
  up=${want%-*}; up=${up%%[+~]*}
  {
    grep -xF "$want" <<<"$have" || true
    grep -F "$up" <<<"$have" | sort -rV || true
    sort -rV <<<"$have"
  } | awk 'NF && !seen[$0]++'
}

# Unpack SRC into $W/SRC (Debian patches applied, as apt-get source does).
fetch_source() {
  local src=$1 ver dir
  apt_prepare
  rm -rf "${W:?}/dl-$src" "${W:?}/$src"
  mkdir -p "$W/dl-$src"
  for ver in $(candidate_versions "$src" "${WANT[$src]}") ''; do
    [[ -n $ver ]] || break
    rm -rf "${W:?}/dl-$src"/*
    (cd "$W/dl-$src" && apt-get "${APT[@]}" -qq source "$src=$ver" >>"$W/fetch-$src.log" 2>&1) && break
  done
  if [[ -n $ver ]]; then
    [[ $ver == "${WANT[$src]}" ]] || log "$src: the archive no longer has the Linux build's ${WANT[$src]}: building $ver"
    dir=$(find "$W/dl-$src" -mindepth 1 -maxdepth 1 -type d | head -n1)
  else
    # The archive (or a mirror) lacks it: an upstream tarball given by hand.
    local up=${WANT[$src]%-*} f
    up=${up#*:}
    f=$(ls "$SOURCES_DIR/${src}_${up}".orig.tar.* 2>/dev/null | head -n1 || true)
    if [[ -z $f && $src == libinih ]]; then
      # Nothing from outside needed: our parser, tested to parse as
      # libinih does (tests/unit/test_ini_compat.c). build_inih sees oini.c.
      log "$src: neither apt nor $SOURCES_DIR has $up; building Outpost's own parser (packaging/windows/ini), which parses as libinih $up"
      mkdir -p "$W/$src"
      cp "$HERE"/ini/*.[ch] "$W/$src/"
      echo "$up (Outpost's packaging/windows/ini, ${STAMP[oini]})" > "$W/$src.version"
      return 0
    fi
    [[ -n $f ]] || { grep '^E:' "$W/fetch-$src.log" >&2 || true
      die "cannot fetch $src ${WANT[$src]}; put ${src}_${up}.orig.tar.gz in $SOURCES_DIR (or OUTPOST_WIN_SOURCES)"; }
    log "$src: apt cannot fetch it; using $f (no Debian patches)"
    ver="$up (upstream tarball)"
    mkdir -p "$W/dl-$src/src" && tar -xf "$f" -C "$W/dl-$src/src" --strip-components=1
    dir=$W/dl-$src/src
  fi
  mv "$dir" "$W/$src"
  echo "$ver" > "$W/$src.version"
}

# CPU seconds (user + system) of the finished children so far of the shell
# PID ($$, or a chain's $BASHPID read outside a command substitution).
# /proc: $(times) would run in a subshell and see none.
CLK_TCK=$(getconf CLK_TCK)
child_cpu() {
  awk -v hz="$CLK_TCK" '{ sub(/^.*\) /, ""); print int(($14 + $15) / hz) }' "/proc/${1:-$$}/stat"
}

# plan LIB SOURCE DEPS...: LIB's stamp (its version, its recipe, its
# dependencies' stamps); LIB joins TODO unless the cache has that stamp.
declare -A STAMP SRC_OF
TODO=()
plan() {
  local lib=$1 src=$2 dep
  shift 2
  SRC_OF[$lib]=$src
  STAMP[$lib]=$({ echo "${WANT[$src]:-$src}"; declare -f "build_$lib"
                  for dep in "$@"; do echo "${STAMP[$dep]}"; done; } | sha256sum | cut -c1-16)
  if [[ $(cat "$CACHE/stamps/$lib" 2>/dev/null) == "${STAMP[$lib]}" ]] ||
     [[ ${#only[@]} -gt 0 && " ${only[*]} " != *" $lib "* ]]; then
    return 0
  fi
  TODO+=("$lib")
}
todo() { [[ " ${TODO[*]} " == *" $1 "* ]]; }

# build LIB...: run build_LIB for each LIB in TODO, in order (its source
# already unpacked by fetch_source).
build() {
  local lib src start cpu0 rc me=$BASHPID
  for lib in "$@"; do
    todo "$lib" || continue
    src=${SRC_OF[$lib]} start=$SECONDS
    rm -f "$CACHE/stamps/$lib"
    cpu0=$(child_cpu "$me")
    log "$lib: building"
    # Not in an if: errexit must stay on inside the recipe.
    set +e
    (set -e; "build_$lib") >"$CACHE/$lib.log" 2>&1
    rc=$?
    set -e
    if ((rc != 0)); then
      tail -n 40 "$CACHE/$lib.log" >&2
      die "$lib failed (log: $CACHE/$lib.log)"
    fi
    [[ $src == - ]] || { cp "$W/$src.version" "$CACHE/stamps/$lib.version"; rm -rf "${W:?}/$src" "${W:?}/dl-$src"; }
    log "$lib: built in $((SECONDS - start))s (CPU $(($(child_cpu "$me") - cpu0))s: on a busy machine the wall time says little)"
    echo "${STAMP[$lib]}" > "$CACHE/stamps/$lib"
  done
}

CROSS_ENV=(CC="$HOST-gcc" AR="$HOST-ar" RANLIB="$HOST-ranlib" WINDRES="$HOST-windres")
CMAKE_CROSS=(-DCMAKE_SYSTEM_NAME=Windows -DCMAKE_C_COMPILER="$HOST-gcc"
  -DCMAKE_RC_COMPILER="$HOST-windres" -DCMAKE_FIND_ROOT_PATH="$P;/usr/$HOST"
  -DCMAKE_FIND_ROOT_PATH_MODE_PROGRAM=NEVER -DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY
  -DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY -DCMAKE_BUILD_TYPE=Release
  -DCMAKE_INSTALL_PREFIX="$P")

# zlib: Debian's mingw build, copied in as a static library only so that
# every link below (and outpost.exe) takes libz.a, never zlib1.dll.
build_zlib() {
  cp "/usr/$HOST/include/zlib.h" "/usr/$HOST/include/zconf.h" "$P/include/"
  cp "/usr/$HOST/lib/libz.a" "$P/lib/"
}

# libcrypto only (net-snmp's USM: MD5, SHA-1/2, DES, AES; X.509 and DH
# for libnetsnmp's certificate and key-change code), without the
# algorithms and protocols nothing here uses: a fifth of the files left
# out. No EC, DSA, sockets, CMP or async jobs: neither net-snmp nor the
# agent calls them. no-deprecated stays off (net-snmp uses the DES_*
# calls). -O1 instead of OpenSSL's -O3: 40% less compile time, and the hot
# paths (AES, SHA, MD5) are OpenSSL's assembly either way.
build_openssl() {
  cd "$W/openssl"
  ./Configure mingw64 --cross-compile-prefix="$HOST-" --prefix="$P" --libdir=lib \
    no-shared no-tests no-dso no-engine no-module no-ui-console \
    no-aria no-bf no-blake2 no-camellia no-cast no-idea no-md4 no-mdc2 no-rc2 no-rc4 \
    no-rmd160 no-seed no-siphash no-siv no-sm2 no-sm3 no-sm4 no-whirlpool no-gost \
    no-srp no-ts no-ocsp no-cms no-ct no-comp no-scrypt no-ec2m \
    no-ssl3 no-tls1 no-tls1_1 no-dtls no-chacha no-poly1305 no-ocb no-rfc3779 \
    no-ec no-dsa no-sock no-cmp no-async -O1
  # libcrypto.a alone: not libcrypto.pc, whose rule builds libssl too
  # (nothing here reads it; net-snmp is configured without pkg-config).
  make -j"$JOBS" build_generated
  make -j"$JOBS" libcrypto.a
  mkdir -p "$P/include/openssl"
  cp include/openssl/*.h "$P/include/openssl/"
  cp libcrypto.a "$P/lib/"
}

build_netsnmp() {
  cd "$W/net-snmp"
  # No pkg-config: with it, configure adds -lssl (we build libcrypto only)
  # and would ask the build machine's openssl.pc; without, it looks for
  # libcrypto in --with-openssl's directory.
  # Its function probes link with -lcrypto alone, which a static
  # libcrypto cannot satisfy (it needs ws2_32, crypt32, bcrypt): the
  # answers, from the library's symbol table.
  local f found=() syms
  syms=$("$HOST-nm" -g --defined-only "$P/lib/libcrypto.a" 2>/dev/null | awk '{print $3}')
  for f in AES_cfb128_encrypt EVP_sha224 EVP_sha384 EVP_MD_CTX_create EVP_MD_CTX_destroy \
           EVP_MD_CTX_new EVP_MD_CTX_free DH_set0_pqg DH_get0_pqg DH_get0_key \
           ASN1_STRING_get0_data X509_NAME_ENTRY_get_object X509_NAME_ENTRY_get_data \
           X509_get_signature_nid ERR_get_error_all OPENSSL_sk_num OPENSSL_sk_value; do
    if grep -qx "$f" <<<"$syms"; then found+=("ac_cv_func_$f=yes"); else found+=("ac_cv_func_$f=no"); fi
  done
  env "${CROSS_ENV[@]}" PKG_CONFIG=false "${found[@]}" \
    ./configure --host="$HOST" --build="$(gcc -dumpmachine)" \
    --prefix="$P" --with-defaults --disable-agent --disable-applications \
    --disable-manuals --disable-scripts --disable-mibs --disable-embedded-perl \
    --without-perl-modules --without-python-modules --disable-shared --enable-static \
    --with-openssl="$P" --enable-blumenthal-aes --without-pcre --without-rpm --without-nl \
    --with-default-snmp-version=2 --with-sys-contact=unknown --with-sys-location=unknown \
    --with-logfile=none --with-persistent-directory="C:/ProgramData/Outpost/snmp" \
    LIBS="-lws2_32 -lcrypt32 -lbcrypt" "$@"
  make -j"$JOBS" -C snmplib
  make installheaders
  make -C snmplib installlibs
}

# libcurl as a DLL, HTTP only: the agent talks HTTPS to its hub; TLS from
# Windows' own Schannel, so there is no libssl to ship. Built with curl's
# own makefile for mingw (lib/Makefile.mk and lib/config-win32.h) rather
# than CMake or autotools: no configure run at all, which under load took
# longer than the compiling. config-win32.h gives what the CMake build had
# (IPv6, threaded resolver, SSPI, NTLM, Kerberos/SPNEGO, Unix sockets).
build_curl() {
  cd "$W/curl"
  # Debian's openssl flavour is the tree without its last two patches
  # (debian/rules pops them the same way).
  patch -R -p1 < debian/patches/99_nss.patch
  patch -R -p1 < debian/patches/90_gnutls.patch
  mkdir -p "lib/$HOST"
  # Flags through the environment: Makefile.mk appends to them.
  CPPFLAGS="-DHTTP_ONLY" CFLAGS="-O1" CURL_LDFLAGS_LIB="-static-libgcc" \
    make -C lib -f Makefile.mk -j"$JOBS" CC="$HOST-gcc" CROSSPREFIX="$HOST-" \
    CFG=-schannel-zlib-sspi-ipv6 ZLIB_PATH="$P" libcurl.dll
  mkdir -p "$P/include/curl" "$P/bin"
  cp include/curl/*.h "$P/include/curl/"
  # The name autotools gives it on mingw (PLATFORM_LIBCURL in core/core.h).
  cp lib/libcurl.dll "$P/bin/libcurl-4.dll"
}

# cJSON and inih are one C file each: compiled as their Debian builds do.
build_cjson() {
  cd "$W/cjson"
  "$HOST-gcc" -O2 -std=c89 -c cJSON.c -o cJSON.o
  "$HOST-ar" rcs "$P/lib/libcjson.a" cJSON.o
  mkdir -p "$P/include/cjson"
  cp cJSON.h "$P/include/cjson/"
}

# Or, when neither apt nor OUTPOST_WIN_SOURCES had libinih (fetch_source),
# Outpost's own parser: the same library and header names, for config/.
build_inih() {
  cd "$W/libinih"
  if [[ -e oini.c ]]; then
    "$HOST-gcc" -O2 -std=c11 -Wall -Wextra -Werror -c oini.c -o ini.o
    cp ini.h oini.h "$P/include/"
  else
    "$HOST-gcc" -O2 -c ini.c -o ini.o
    rm -f "$P/include/oini.h"
    cp ini.h "$P/include/"
  fi
  "$HOST-ar" rcs "$P/lib/libinih.a" ini.o
}

build_cmocka() {
  cd "$W/cmocka"
  cmake -S . -B build-win -G Ninja "${CMAKE_CROSS[@]}" -DBUILD_SHARED_LIBS=OFF \
    -DWITH_STATIC_LIB=ON -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF -DPICKY_DEVELOPER=OFF
  cmake --build build-win -j "$JOBS"
  cmake --install build-win
}

command -v ninja >/dev/null || die "ninja missing (packaging/deps.sh --windows installs ninja-build)"
plan zlib -
plan openssl openssl
plan netsnmp net-snmp openssl zlib
plan curl curl zlib
plan cjson cjson
# inih's stamp has our parser's files in it too: which source is used is
# known only after the fetch, and the stand-in's changes must rebuild it
# (a second of CPU when the stamp was libinih's own source).
STAMP[oini]=$(cat "$HERE"/ini/*.[ch] | sha256sum | cut -c1-16)
plan inih libinih oini
plan cmocka cmocka

# The sources first, one after the other (apt and the network), then the
# builds as three chains side by side: the configure runs (net-snmp's,
# cmocka's CMake) use one core, so a compile of another chain fills the
# other. A cold cache: about 9 CPU-minutes in all (docs/windows.md).
for lib in "${TODO[@]}"; do
  [[ ${SRC_OF[$lib]} == - ]] || fetch_source "${SRC_OF[$lib]}"
done
build zlib
pids=()
build openssl netsnmp & pids+=($!)
build curl & pids+=($!)
build cjson inih cmocka & pids+=($!)
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
((failed == 0)) || die "a library failed to build (above)"

# What the Makefile includes: the flags for outpost.exe and the unit tests.
cat > "$CACHE/env.mk" <<EOF
# Generated by packaging/windows/deps.sh; versions in $CACHE/stamps/*.version
WIN_DEPS     = $CACHE
WIN_CPPFLAGS = -I$P/include -DNETSNMP_NO_INLINE
WIN_LDFLAGS  = -L$P/lib -static
WIN_LIBS     = -lnetsnmp -lcrypto -lcjson -linih -lz -lws2_32 -liphlpapi -lcrypt32 -lbcrypt -ladvapi32 -luser32 -lgdi32
WIN_DLLS     = $P/bin/libcurl-4.dll
WIN_CMOCKA   = -lcmocka-static
EOF
rm -rf "$W"
if ((${#TODO[@]})); then
  log "built: ${TODO[*]} in ${SECONDS}s (CPU $(child_cpu)s); cache $CACHE"
else
  log "cache hit: $CACHE"
fi
echo "$CACHE"
