#!/usr/bin/env bash
# Builds the packages for one gateway architecture from one staged tree (stage.sh).
#
#   deploy/package/build.sh ARCH OUTDIR      ARCH: amd64, arm64 or armhf (Debian's names)
#
# writes OUTDIR/reefer-edge_<version>_<ARCH>.deb, for Debian and Raspberry Pi OS, and
# OUTDIR/reefer-edge-<version>-linux-<ARCH>.tar.gz with install.sh, for other distributions.
# In the .deb the tree goes to
# /usr/lib/reefer-edge, the launcher to /usr/bin/reefer-edge, the unit to
# /lib/systemd/system, an example config to /etc/reefer-edge (a conffile: local edits survive
# upgrades). The maintainer scripts are in debian/; what they do to the system is setup.sh.
# dpkg-deb alone builds it (no debhelper): the layout is small and fixed, and the scripts stay
# readable in one place. VERSION overrides package.json's version (the upgrade test uses it).
set -euo pipefail
arch=${1:?usage: build.sh amd64|arm64|armhf OUTDIR}
outdir=${2:?usage: build.sh ARCH OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
case "$arch" in
  amd64) node_arch=x64 ;;
  arm64) node_arch=arm64 ;;
  # No Node 22 for armv7 in a registry dpkg could resolve on Raspberry Pi OS: the launcher finds
  # the operator's Node 22 and refuses another major (stage.sh says why).
  armhf) node_arch=armv7l ;;
  *) echo "build: ARCH is amd64, arm64 or armhf" >&2; exit 2 ;;
esac
version=${VERSION:-$(node -p 'require(process.argv[1]).version' "$repo/package.json")}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"
"$here/stage.sh" "$node_arch" "$root/usr/lib/reefer-edge"
# The agent names its version from its package.json (the health shadow, the update jobs): the
# package's own, VERSION included.
node -e 'const fs = require("node:fs"); const [file, version] = process.argv.slice(1); const pkg = JSON.parse(fs.readFileSync(file, "utf8")); pkg.version = version; fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n")' \
  "$root/usr/lib/reefer-edge/package.json" "$version"
install -d "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/reefer-edge" \
  "$root/usr/share/doc/reefer-edge" "$root/DEBIAN"
ln -s ../lib/reefer-edge/bin/reefer-edge "$root/usr/bin/reefer-edge"
install -m 0644 "$repo/deploy/systemd/reefer-edge.service" "$repo/deploy/update/reefer-edge-update.service" \
  "$repo/deploy/update/reefer-edge-update.path" "$root/lib/systemd/system/"
install -m 0644 "$here/agent.yaml.example" "$root/etc/reefer-edge/agent.yaml.example"
install -m 0644 "$repo/README.md" "$repo/config/REFERENCE.md" "$repo/config/schema.json" \
  "$repo/docs/wire-contract.md" "$root/usr/share/doc/reefer-edge/"
# The guides, where the README's links expect them (docs/ beside it).
install -d "$root/usr/share/doc/reefer-edge/docs"
install -m 0644 "$repo"/docs/*.md "$root/usr/share/doc/reefer-edge/docs/"
printf 'reefer-edge\nLicense: Apache-2.0 (see /usr/share/common-licenses/Apache-2.0)\nBundled: Node.js and npm packages under their own licenses, in /usr/lib/reefer-edge.\n' \
  >"$root/usr/share/doc/reefer-edge/copyright"
for script in postinst prerm postrm; do install -m 0755 "$here/debian/$script" "$root/DEBIAN/"; done
echo /etc/reefer-edge/agent.yaml.example >"$root/DEBIAN/conffiles"
# What the native code needs of the C and C++ libraries, read from the binaries themselves:
# Debian's cross compilers (gcc 12, glibc 2.36) make better-sqlite3 need newer symbols than
# Node's own binary does, and a gateway on an older system must be refused by dpkg, not fail
# at the first start with "version `GLIBC_2.34' not found".
elves=$(find "$root/usr/lib/reefer-edge" -type f \( -name '*.node' ! -name '*.musl.node' -o -path '*/node/bin/node' \))
symbols=$(for elf in $elves; do readelf -W --dyn-syms "$elf"; done)
glibc=$(grep -o 'GLIBC_2\.[0-9.]*' <<<"$symbols" | sed 's/^GLIBC_//' | sort -uV | tail -n 1)
glibcxx=$(grep -o 'GLIBCXX_3\.4\.[0-9]*' <<<"$symbols" | sed 's/^GLIBCXX_3\.4\.//' | sort -un | tail -n 1)
# GLIBCXX_3.4.N first shipped with this gcc (and Debian's libstdc++6 of that version).
case "${glibcxx:-0}" in
  28) libstdcxx=" (>= 10)" ;; 29) libstdcxx=" (>= 11)" ;; 30) libstdcxx=" (>= 12)" ;;
  31 | 32) libstdcxx=" (>= 13)" ;; 33) libstdcxx=" (>= 14)" ;; *) libstdcxx="" ;;
esac
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: reefer-edge
Version: $version
Architecture: $arch
Maintainer: reefer-edge developers <reefer-edge@localhost>
Installed-Size: $size
Depends: libc6 (>= ${glibc:-2.28}), libstdc++6${libstdcxx}, libgcc-s1, passwd, util-linux, openssl
Recommends: systemd
Section: net
Priority: optional
Description: edge gateway agent for refrigerated shipping containers
 Reads reefer controllers (Modbus RTU over RS-485, Modbus TCP, or a simulated reefer),
 raises temperature alerts at the edge, buffers every reading in a durable SQLite outbox
 while the link is down, and publishes to AWS IoT Core over MQTT with mutual TLS.
 Runs as the hardened systemd service reefer-edge, which stays disabled until the operator
 has put /etc/reefer-edge/agent.yaml and the certificates in place.
CONTROL
mkdir -p "$outdir"
deb="$outdir/reefer-edge_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "build: $deb ($(du -h "$deb" | cut -f1))"

# The tarball: the same tree, the unit, the example and install.sh, in one folder.
name="reefer-edge-${version}-linux-${arch}"
tarroot="$work/$name"
mkdir -p "$tarroot"
cp -a "$root/usr/lib/reefer-edge" "$tarroot/lib"
install -m 0644 "$repo/README.md" "$tarroot/lib/"
install -m 0644 "$repo/deploy/systemd/reefer-edge.service" "$here/agent.yaml.example" "$tarroot/"
install -m 0755 "$here/install.sh" "$tarroot/"
tar -C "$work" -czf "$outdir/$name.tar.gz" "$name"
echo "build: $outdir/$name.tar.gz ($(du -h "$outdir/$name.tar.gz" | cut -f1))"
