#!/usr/bin/env bash
# upgrade_debs.sh BUILD_DIR OUT_DIR: two Debian packages of BUILD_DIR's binaries for an upgrade
# test, and prints their paths (the first, then the second):
#   hotgate_<v>_amd64.deb     CPack's package of the build, stripped as tools/package does it
#   hotgate_<v>+b_amd64.deb   the same package with /usr/sbin/hotgate replaced by hotgate_b (the
#                             same gateway under the build version "<v>-b") and its Version,
#                             md5sums and file name to match: the "next release" an operator
#                             installs over the first one.
# package_under_systemd.sh installs them in a VM (vmtests/suite).
set -euo pipefail

BUILD=$(cd "${1:?usage: upgrade_debs.sh BUILD_DIR OUT_DIR}" && pwd)
OUT=${2:?usage: upgrade_debs.sh BUILD_DIR OUT_DIR}
rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

(cd "$BUILD" && cpack -G DEB -D CPACK_STRIP_FILES=ON -B "$OUT/cpack") >"$OUT/cpack.log" 2>&1 ||
  { cat "$OUT/cpack.log" >&2; echo "upgrade_debs.sh: cpack -G DEB failed" >&2; exit 1; }
shopt -s nullglob
debs=("$OUT"/cpack/hotgate_*.deb)
((${#debs[@]} == 1)) || { echo "upgrade_debs.sh: expected one hotgate_*.deb from cpack, found ${#debs[@]}" >&2; exit 1; }
first=$OUT/$(basename "${debs[0]}")
mv "${debs[0]}" "$first"
rm -rf "$OUT/cpack"

# The next release: hotgate_b's build version, with '-' made '+' as cmake/Packaging.cmake does.
next_version=$("$BUILD/bin/hotgate_b" --version | awk '{print $2}')
next_version=${next_version//-/+}
tree=$OUT/next
dpkg-deb -R "$first" "$tree"
strip -o "$tree/usr/sbin/hotgate" "$BUILD/bin/hotgate_b"
sed -i "s/^Version: .*/Version: $next_version/" "$tree/DEBIAN/control"
(cd "$tree" && awk '{print $2}' DEBIAN/md5sums | xargs md5sum >DEBIAN/md5sums.new && mv DEBIAN/md5sums.new DEBIAN/md5sums)
arch=$(dpkg-deb -f "$first" Architecture)
second=$OUT/hotgate_${next_version}_${arch}.deb
dpkg-deb --root-owner-group -Zgzip -z1 -b "$tree" "$second" >/dev/null
rm -rf "$tree"
[[ $(dpkg-deb -f "$second" Version) == "$next_version" ]] || { echo "upgrade_debs.sh: $second has the wrong Version" >&2; exit 1; }
dpkg --compare-versions "$next_version" gt "$(dpkg-deb -f "$first" Version)" ||
  { echo "upgrade_debs.sh: $next_version does not sort after $(dpkg-deb -f "$first" Version)" >&2; exit 1; }
echo "$first"
echo "$second"
