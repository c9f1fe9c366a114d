#!/usr/bin/env bash
# What wixl (msitools 0.101) cannot express in outpost.wxs, added to the
# built MSI with msibuild:
# - the sample configuration's component is NeverOverwrite (an upgrade
#   keeps the user's edits) and Permanent (uninstall leaves it, like the
#   state directory: both are the user's);
# - its ACL (MsiLockPermissionsEx, Windows Installer 5.0): a protected
#   DACL with full access for Administrators (BA) and SYSTEM (SY), the
#   account the service runs as, and nobody else. SDDL, unlike the older
#   LockPermissions table, does not depend on the account names' language.
#
#   msi-acl.sh FILE.msi
set -euo pipefail
msi=${1:?usage: msi-acl.sh FILE.msi}
# msibuild -i changes into the .idt file's directory before it writes the
# database: a relative path like build-win/x.msi then names nothing there,
# and msibuild (msitools 0.101) crashes instead of saying so.
msi=$(realpath -- "$msi")

# msidbComponentAttributes: 64-bit 256 | Permanent 16 | NeverOverwrite 128
msibuild "$msi" -q "UPDATE \`Component\` SET \`Attributes\` = 400 WHERE \`Component\` = 'SampleConfig'"

idt=$(mktemp -d)
trap 'rm -rf "$idt"' EXIT
printf '%s\t%s\t%s\t%s\t%s\r\n' \
  MsiLockPermissionsEx LockObject Table SDDL Condition \
  s72 s72 s32 l0 S255 \
  MsiLockPermissionsEx MsiLockPermissionsEx '' '' '' \
  SampleConfigAcl SampleConfigFile File 'D:P(A;;FA;;;BA)(A;;FA;;;SY)' '' |
  sed 's/\t*\r$/\r/' > "$idt/MsiLockPermissionsEx.idt"
msibuild "$msi" -i "$idt/MsiLockPermissionsEx.idt"
