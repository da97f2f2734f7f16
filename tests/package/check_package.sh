#!/usr/bin/env bash
# check_package.sh BUILD_DIR: builds the Debian package from BUILD_DIR's binaries with CPack (no
# second build: the tests' own build is packaged as it is, unstripped) and checks what an
# operator gets: the file list, the control fields and maintainer scripts, the packaged config
# (hotgate --check-config), the man pages and the bash completion (every gwctl verb), and the
# unit (systemd-analyze verify, against the package's own binaries and man pages).
#
# Whether the package installs, upgrades and runs under a real systemd is checked in a VM whose
# PID 1 is systemd (vmtests/suite runs package_under_systemd.sh); the notify protocol it relies on is also tested
# with a socket playing systemd's part (tests/integration/service_notify_test.cpp).
set -euo pipefail

BUILD=$(cd "$1" && pwd)
WORK=$BUILD/package-test
rm -rf "$WORK"
mkdir -p "$WORK"

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# CPack installs what is built (cmake/Packaging.cmake: no build of the whole tree first).
(cd "$BUILD" && cpack -G DEB -B "$WORK") >"$WORK/cpack.log" 2>&1 ||
  { cat "$WORK/cpack.log" >&2; echo "FAIL: cpack -G DEB" >&2; exit 1; }
shopt -s nullglob
debs=("$WORK"/hotgate_*.deb)
((${#debs[@]} == 1)) || { echo "FAIL: expected one hotgate_*.deb in $WORK, found ${#debs[@]}" >&2; exit 1; }
deb=${debs[0]}
echo "package: $deb"

# ---- control fields -------------------------------------------------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
[[ $(field Package) == hotgate ]] || fail "Package is '$(field Package)', not hotgate"
arch=$(dpkg --print-architecture)
[[ $(field Architecture) == "$arch" ]] || fail "Architecture is '$(field Architecture)', not $arch"
version=$(field Version)
# The build version hotgate reports, with '-' made '+' (cmake/Packaging.cmake).
build_version=$("$BUILD/bin/hotgate" --version | awk '{print $2}')
[[ $version == "${build_version//-/+}" ]] || fail "Version '$version' is not the build version '$build_version'"
[[ $(basename "$deb") == "hotgate_${version}_${arch}.deb" ]] || fail "file name $(basename "$deb")"
depends=$(field Depends)
echo "Depends: $depends"
# From dpkg-shlibdeps: the libraries the binaries link, with versions.
for library in libc6 libstdc++6 libssl3 libbpf1 libsystemd0 libyaml-cpp0.7 libnghttp2-14 libcurl4 adduser; do
  [[ ", $depends," == *", $library"[\ ,]* ]] || fail "Depends lacks $library: $depends"
done
# Versions come only from dpkg-shlibdeps (libsystemd0's shlibs entry has none).
[[ $depends == *"libbpf1 (>="* && $depends == *"libssl3 (>="* ]] ||
  fail "Depends has no versioned libbpf1 and libssl3: did dpkg-shlibdeps run? ($depends)"

dpkg-deb -e "$deb" "$WORK/control"
conffiles=$(cat "$WORK/control/conffiles" 2>/dev/null || true)
for conffile in /etc/hotgate/hotgate.yaml /etc/logrotate.d/hotgate; do
  grep -qx "$conffile" <<<"$conffiles" || fail "$conffile is not a conffile (conffiles: $conffiles)"
done
for script in postinst prerm postrm; do
  [[ -x $WORK/control/$script ]] || fail "maintainer script $script missing or not executable"
  sh -n "$WORK/control/$script" || fail "maintainer script $script: syntax"
done
grep -q "adduser --system" "$WORK/control/postinst" || fail "postinst creates no hotgate system user"

# ---- file list ------------------------------------------------------------------------------
listing=$(dpkg-deb -c "$deb")
has() { awk '{print $1, $6}' <<<"$listing" | grep -q "^$1 \./${2#/}\$"; }
for binary in /usr/sbin/hotgate /usr/bin/gwctl; do
  has -rwxr-xr-x "$binary" || fail "$binary missing or not mode 0755"
done
for file in /etc/hotgate/hotgate.yaml /lib/systemd/system/hotgate.service /etc/logrotate.d/hotgate \
            /usr/share/bash-completion/completions/gwctl /usr/share/man/man8/hotgate.8.gz \
            /usr/share/man/man1/gwctl.1.gz /usr/share/doc/hotgate/operations.md; do
  has -rw-r--r-- "$file" || fail "$file missing or not mode 0644"
done

ROOT=$WORK/root
dpkg-deb -x "$deb" "$ROOT"

# ---- what the files say ---------------------------------------------------------------------
"$ROOT/usr/sbin/hotgate" --check-config "$ROOT/etc/hotgate/hotgate.yaml" ||
  fail "the packaged config is rejected"
grep -q "postrotate" "$ROOT/etc/logrotate.d/hotgate" && grep -q "/usr/bin/gwctl logs reopen" "$ROOT/etc/logrotate.d/hotgate" ||
  fail "logrotate does not run gwctl logs reopen after rotating"

completion=$ROOT/usr/share/bash-completion/completions/gwctl
bash -n "$completion" || fail "the bash completion does not parse"
# Every verb gwctl --help lists is completed (the script is generated, so this catches a
# package built from a stale script).
verbs=$("$ROOT/usr/bin/gwctl" --help | awk '/^Subcommands:/ {on = 1; next} on && NF {print $1}')
[[ -n $verbs ]] || fail "gwctl --help lists no subcommands"
for verb in $verbs; do
  grep -q "\"\") echo \".*\\b$verb\\b" "$completion" || fail "the completion does not offer 'gwctl $verb'"
done

for page in man8/hotgate.8.gz man1/gwctl.1.gz; do
  warnings=$(MANWIDTH=100 man --warnings -l "$ROOT/usr/share/man/$page" 2>&1 >/dev/null) || fail "man -l $page failed"
  [[ -z $warnings ]] || fail "man -l $page: $warnings"
done
zcat "$ROOT/usr/share/man/man8/hotgate.8.gz" | grep -q -- 'upgrade\\-from' || fail "hotgate(8) lacks --upgrade-from"
zcat "$ROOT/usr/share/man/man1/gwctl.1.gz" | grep -q 'completion' || fail "gwctl(1) lacks the completion verb"

# ---- the unit -------------------------------------------------------------------------------
unit=$ROOT/lib/systemd/system/hotgate.service
for setting in Type=notify NotifyAccess=all RuntimeDirectory=hotgate StateDirectory=hotgate User=hotgate \
               "ExecReload=/usr/bin/gwctl upgrade --binary /usr/sbin/hotgate --auto-commit 5s"; do
  grep -qx "$setting" "$unit" || fail "hotgate.service lacks $setting"
done
# systemd-analyze verify checks the commands exist and the Documentation= man pages open: a
# copy of the unit points at the package's binaries, and man looks in the package's pages.
mkdir -p "$WORK/verify"
sed -e "s#/usr/sbin/hotgate#$ROOT/usr/sbin/hotgate#g" -e "s#/usr/bin/gwctl#$ROOT/usr/bin/gwctl#g" \
  "$unit" >"$WORK/verify/hotgate.service"
if ! verify=$(MANPATH=$ROOT/usr/share/man SYSTEMD_LOG_LEVEL=notice systemd-analyze verify \
                "$WORK/verify/hotgate.service" 2>&1) || [[ -n $verify ]]; then
  fail "systemd-analyze verify hotgate.service:"$'\n'"$verify"
fi

if ((failures)); then
  echo "$failures check(s) failed for $deb" >&2
  exit 1
fi
echo "package ok: $deb"
