#!/usr/bin/env bash
# Stages the agent for one gateway architecture into OUT, as a package will install it under
# /usr/lib/reefer-edge: dist/, production node_modules with better-sqlite3 compiled for ARCH,
# a Node 22 runtime for ARCH from the npm registry in node/, and bin/reefer-edge.
#
#   deploy/package/stage.sh ARCH OUT      ARCH: x64 or arm64
#
# Why the runtime is carried: Debian 12 and Raspberry Pi OS ship Node 18, and Node 22 LTS
# (the gateways' runtime) would otherwise need a third-party apt repository on 10,000 boxes.
# The npm registry carries Node 22 for x64 and arm64 (node-linux-<arch>, with its headers, which
# better-sqlite3 compiles against); for armv7 it stops at 20.11, so an armhf build must use a
# system Node 22 instead (not staged here).
# better-sqlite3 is cross-compiled with Debian's cross compilers (g++-aarch64-linux-gnu) against
# the carried runtime's headers; serialport carries prebuilt binaries for every architecture.
set -euo pipefail
arch=${1:?usage: stage.sh ARCH OUT}
out=${2:?usage: stage.sh ARCH OUT}
node_version=${NODE22_VERSION:-22.23.5}
repo=$(cd "$(dirname "$0")/../.." && pwd)
case "$arch" in
  x64) cc=gcc cxx=g++ ;;
  arm64) cc=aarch64-linux-gnu-gcc cxx=aarch64-linux-gnu-g++ ;;
  *) echo "stage: ARCH is x64 or arm64 (armv7: no Node 22 in the npm registry)" >&2; exit 2 ;;
esac
command -v "$cxx" >/dev/null || { echo "stage: $cxx missing (apt-get install g++-aarch64-linux-gnu)" >&2; exit 1; }
rm -rf "$out" && mkdir -p "$out/bin"
(cd "$repo" && npm run build --silent)
cp -r "$repo/dist" "$repo/package.json" "$repo/package-lock.json" "$out/"
# Production dependencies only, with no install scripts: nothing compiles for the build machine.
(cd "$out" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --silent)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npm pack --silent --pack-destination "$tmp" "node-linux-$arch@$node_version" >/dev/null
tar -xzf "$tmp"/node-linux-"$arch"-*.tgz -C "$tmp"
mv "$tmp/package" "$out/node"
gyp="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
(
  cd "$out/node_modules/better-sqlite3"
  # npm's own settings in the environment (npm_config_nodedir when run under npm) would win over
  # the flags: set them to the carried runtime.
  CC=$cc CXX=$cxx LINK=$cxx AR=${cc%gcc}ar JOBS=1 \
    npm_config_nodedir="$out/node" npm_config_arch="$arch" npm_config_target_arch="$arch" \
    node "$gyp" rebuild --release --arch="$arch" --nodedir="$out/node" >/dev/null
  # Only the addon is needed at run time: not the objects nor the bundled SQLite sources.
  find build -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
  find build/Release -mindepth 1 ! -name better_sqlite3.node -exec rm -rf {} +
  rm -rf deps src
)
# Headers were needed for the build only.
rm -rf "$out/node/include" "$out/node/share"
cat >"$out/bin/reefer-edge" <<'LAUNCHER'
#!/bin/sh
# reefer-edge on its own Node 22 runtime.
here=$(dirname "$(readlink -f "$0")")
exec "$here/../node/bin/node" "$here/../dist/agent/cli.js" "$@"
LAUNCHER
chmod +x "$out/bin/reefer-edge"
echo "stage: $arch in $out ($(du -sh "$out" | cut -f1)), node $node_version, better-sqlite3 built for $arch"
