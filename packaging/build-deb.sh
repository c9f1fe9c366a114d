#!/usr/bin/env bash
# Build outpost_VERSION_ARCH.deb and outpost-hub_VERSION_ARCH.deb with plain
# dpkg-deb from staged trees (no debhelper, no fakeroot: --root-owner-group).
#
#   packaging/build-deb.sh [--outpost BIN] [--hub BIN] [--out DIR]
#
# Defaults: build/outpost, build/outpost-hub, build/deb. `make deb` runs it.
# The version is OUTPOST_VERSION in core/core.h; Depends comes from
# dpkg-shlibdeps (package dpkg-dev) when it is there, else a fixed list.
set -euo pipefail

cd "$(dirname "$0")/.."
umask 022

outpost_bin=build/outpost
hub_bin=build/outpost-hub
out=build/deb
while (($#)); do
  case "$1" in
    --outpost) outpost_bin=$2; shift 2 ;;
    --hub) hub_bin=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 [--outpost BIN] [--hub BIN] [--out DIR]" >&2; exit 2 ;;
  esac
done

die() { echo "build-deb.sh: $*" >&2; exit 1; }
for f in "$outpost_bin" "$hub_bin"; do
  [[ -x $f ]] || die "$f is not an executable (run make first)"
done
for f in packaging/man/outpost.ini.5 packaging/man/outpost-hub.ini.5; do
  [[ -f $f ]] || die "$f is missing (run make docs)"
done

version=$(sed -n 's/^#define OUTPOST_VERSION "\(.*\)"$/\1/p' core/core.h)
[[ $version =~ ^[0-9][0-9A-Za-z.+~-]*$ ]] || die "no OUTPOST_VERSION in core/core.h"
arch=$(dpkg --print-architecture)
maintainer="Outpost developers <dev@outpost.invalid>"
# Reproducible file times: the last commit, when there is one.
if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

work=$(mktemp -d /tmp/outpost-deb-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# Depends of the binaries in a staged tree: dpkg-shlibdeps wants to run in
# a source tree (debian/control) with the package staged in debian/PKG.
shlib_depends() {
  local pkg=$1 fallback=$2 line
  shift 2
  if command -v dpkg-shlibdeps >/dev/null; then
    : >"$work/debian/control"
    if line=$(cd "$work" && dpkg-shlibdeps -O "$@" 2>"$work/shlibdeps.err"); then
      echo "${line#shlibs:Depends=}"
      return
    fi
    cat "$work/shlibdeps.err" >&2
    die "dpkg-shlibdeps failed for $pkg"
  fi
  echo "$fallback"
}

man_gz() {   # SRC DEST: gzip -9n, as Debian policy wants
  install -d -m 0755 "$(dirname "$2")"
  gzip -9nc "$1" >"$2"
  chmod 0644 "$2"
}

maint_script() {   # TEMPLATE PKG USER CONFFILE STATEDIR UNIT GECOS DEST
  sed -e "s|@PKG@|$2|g" -e "s|@USER@|$3|g" -e "s|@CONFFILE@|$4|g" \
      -e "s|@STATEDIR@|$5|g" -e "s|@UNIT@|$6|g" -e "s|@GECOS@|$7|g" "$1" >"$8"
  chmod 0755 "$8"
}

# PKG BIN USER SAMPLE CONFFILE STATEDIR UNIT MAN8 MAN5 GECOS FALLBACK_DEPENDS SUMMARY
build_one() {
  local pkg=$1 bin=$2 user=$3 sample=$4 conffile=$5 statedir=$6 unit=$7
  local man8=$8 man5=$9 gecos=${10} fallback=${11} summary=${12}
  local root=$work/debian/$pkg depends size s

  install -d -m 0755 "$root/DEBIAN" "$root/usr/bin" "$root/etc/outpost" \
    "$root/lib/systemd/system" "$root/usr/share/doc/$pkg"
  install -m 0755 "$bin" "$root/usr/bin/$pkg"
  strip --strip-unneeded --remove-section=.comment --remove-section=.note \
    "$root/usr/bin/$pkg"
  install -m 0644 "packaging/$unit" "$root/lib/systemd/system/$unit"
  install -m 0600 "$sample" "$root$conffile"
  man_gz "packaging/man/$man8" "$root/usr/share/man/man8/$man8.gz"
  man_gz "packaging/man/$man5" "$root/usr/share/man/man5/$man5.gz"
  install -m 0644 packaging/deb/copyright "$root/usr/share/doc/$pkg/copyright"
  if [[ $pkg == outpost ]]; then
    install -m 0644 docs/operations.md "$root/usr/share/doc/$pkg/operations.md"
  fi

  depends=$(shlib_depends "$pkg" "$fallback" -e"$root/usr/bin/$pkg")
  depends="adduser, $depends"
  # outpost loads libcurl at run time (transport/curl_dl.h): not in its
  # ELF dependencies, so named here.
  [[ $pkg == outpost ]] && depends="$depends, libcurl4 (>= 7.88)"
  size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
  cat >"$root/DEBIAN/control" <<EOF
Package: $pkg
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends
Section: net
Priority: optional
Description: $summary
EOF
  cat "packaging/deb/$pkg.description" >>"$root/DEBIAN/control"
  echo "$conffile" >"$root/DEBIAN/conffiles"
  for s in postinst prerm postrm; do
    maint_script "packaging/deb/$s.in" "$pkg" "$user" "$conffile" "$statedir" \
      "$unit" "$gecos" "$root/DEBIAN/$s"
  done
  (cd "$root" && find . -path ./DEBIAN -prune -o -path "./etc" -prune -o \
     -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) \
    >"$root/DEBIAN/md5sums"
  chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"
  dpkg-deb --root-owner-group -Zxz --build "$root" \
    "$out/${pkg}_${version}_${arch}.deb" >/dev/null
  echo "$out/${pkg}_${version}_${arch}.deb"
}

build_one outpost "$outpost_bin" outpost packaging/outpost.ini \
  /etc/outpost/outpost.ini /var/lib/outpost outpost.service \
  outpost.8 outpost.ini.5 "Outpost SNMP agent" \
  "libc6, libsnmp40, libcurl4, libcjson1, zlib1g, libinih1" \
  "SNMP data-collection agent"
build_one outpost-hub "$hub_bin" outpost-hub packaging/outpost-hub.ini \
  /etc/outpost/hub.ini /var/lib/outpost-hub outpost-hub.service \
  outpost-hub.8 outpost-hub.ini.5 "Outpost hub" \
  "libc6, libmicrohttpd12, libgnutls30, libsqlite3-0, libpq5, libcjson1, zlib1g, libinih1, libssl3" \
  "reference hub for Outpost SNMP agents"
