#!/usr/bin/env bash
# The unit and integration suites on Node 22 LTS, the gateways' runtime, so that what ships is
# what was tested. The runtime comes from the npm registry (node-linux-<arch>, which carries
# node and its headers), better-sqlite3 is rebuilt against those headers, and rebuilt back for
# the installed node at the end so the checkout keeps working with it.
# Usage: bash test/runtimes/node22.sh   (npm run test:node22)
set -euo pipefail
cd "$(dirname "$0")/../.."
version=${NODE22_VERSION:-22.23.5}
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "node22: no node-linux package for $(uname -m)" >&2; exit 1 ;;
esac
dir=$(mktemp -d)
# Others may run this node: tests that drop to another user (nobody) execute it too.
chmod 755 "$dir"
addon=node_modules/better-sqlite3/build/Release/better_sqlite3.node
# The installed node's addon is kept aside and put back at the end: compiling SQLite again for it
# would take a core for a minute or more.
cp "$addon" "$dir/host-addon.node"
host_version=$(node --version)
restore() {
  echo "node22: better-sqlite3 for $host_version back in place"
  cp "$dir/host-addon.node" "$addon"
}
trap 'restore; rm -rf "$dir"' EXIT
npm pack --silent --pack-destination "$dir" "node-linux-$arch@$version" >/dev/null
tar -xzf "$dir"/node-linux-"$arch"-*.tgz -C "$dir"
export PATH="$dir/package/bin:$PATH"
export npm_config_nodedir="$dir/package"
# The addon for Node 22: from REEFER_EDGE_ADDON_CACHE when the package stage (deploy/package/
# stage.sh) compiled it earlier in the same CI run, under the same key; else compiled here.
cache=${REEFER_EDGE_ADDON_CACHE:-}
key="better-sqlite3-$(node -p 'require("better-sqlite3/package.json").version')-node-$version-$arch.node"
if [ -n "$cache" ] && [ -f "$cache/$key" ]; then
  echo "node22: $(node --version) from node-linux-$arch@$version; better-sqlite3 from $cache/$key"
  cp "$cache/$key" "$addon"
else
  echo "node22: $(node --version) from node-linux-$arch@$version; rebuilding better-sqlite3 against its headers"
  npm rebuild better-sqlite3 >/dev/null
  if [ -n "$cache" ]; then mkdir -p "$cache" && cp "$addon" "$cache/$key.$$" && mv "$cache/$key.$$" "$cache/$key"; fi
fi
node -e 'new (require("better-sqlite3"))(":memory:").close()'
# The chaos suite and the power-cut rig run once, on the installed node: their faults are the
# OS's and SQLite's, not the runtime's (the failing-storage tests do run again: they caught a
# handle that Node 22's timing left open).
# The arm64 stage carries its own Node 22 and runs once too. The fleet runs on Node 22 in its
# container image (test/deploy/compose-fleet.test.ts), so its 1,000-gateway run is not repeated.
# The browser tests (test/browser) test the page in chromium: the dashboard's server side runs
# again here through test/integration/dashboard-http.test.ts. The updates on a booted system
# (test/update) install the package, whose agent runs on the Node 22 it carries either way. The
# fleet's release rehearsal (test/integration/fleet-release.test.ts) runs the agent's update path,
# which test/integration/update-job.test.ts runs here on Node 22. The audit log's tamper harness
# and its Go verifier (test/audit) judge pure computation once; the log's own unit tests
# (core/audit) run here again.
log="$dir/vitest.log"
status=0
npx vitest run --exclude 'test/chaos/**' --exclude 'test/powercut/**' --exclude 'test/browser/**' --exclude 'test/deploy/package-*.test.ts' --exclude 'test/deploy/compose-*.test.ts' \
  --exclude 'test/integration/fleet.test.ts' --exclude 'test/integration/fleet-release.test.ts' \
  --exclude 'test/update/**' --exclude 'test/audit/**' \
  --exclude 'node_modules/**' 2>&1 | tee "$log" || status=$?
trap - EXIT
restore
# The summary again as the last line, where CI reads the result.
summary=$(grep -E '^tests: ' "$log" | tail -n 1 || true)
rm -rf "$dir"
echo "${summary:-node22: no test summary (see above)}"
exit "$status"
