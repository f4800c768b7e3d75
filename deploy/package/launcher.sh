#!/bin/sh
# reefer-edge on Node @NODE_MAJOR@: the runtime the package carries (node/ beside bin/), else the
# one REEFER_EDGE_NODE names, else node on PATH. better-sqlite3 was compiled for Node @NODE_MAJOR@'s
# ABI: on any other major it would fail to load with an opaque error, so refuse with exit 78
# (EX_CONFIG; the service's RestartPreventExitStatus) and say what to install.
here=$(dirname "$(readlink -f "$0")")
node=${REEFER_EDGE_NODE:-}
if [ -z "$node" ]; then
  if [ -x "$here/../node/bin/node" ]; then node="$here/../node/bin/node"; else node=$(command -v node || true); fi
fi
version=$([ -n "$node" ] && "$node" --version 2>/dev/null || true)
case "$version" in
  v@NODE_MAJOR@.*) exec "$node" "$here/../dist/commands/cli.js" "$@" ;;
esac
echo "reefer-edge: needs Node @NODE_MAJOR@ (found ${version:-no node}${node:+ at $node}). Install Node @NODE_MAJOR@ for $(uname -m): unpack nodejs.org's node-v@NODE_MAJOR@.x-linux-<arch> tarball into $(readlink -f "$here/..")/node, or set REEFER_EDGE_NODE" >&2
exit 78
