#!/bin/sh
# Installs reefer-edge from this tarball on a Linux distribution without dpkg, the way the .deb
# does on Debian: the agent in PREFIX (default /opt/reefer-edge), the command in
# /usr/local/bin, the systemd unit in /etc/systemd/system, the user and directories, an example
# config in /etc/reefer-edge. It enables nothing: put /etc/reefer-edge/agent.yaml and the
# certificates in place, check them with `reefer-edge doctor`, then `systemctl enable --now
# reefer-edge`. Running it again upgrades: the service is stopped, the outbox migrated, and the
# service started again if it was enabled.
#
#   sudo ./install.sh [--prefix DIR]      install or upgrade
#   sudo ./install.sh --uninstall         remove the program; keep the outbox and the config
#   sudo ./install.sh --purge             remove the program, the outbox and /etc/reefer-edge
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=/opt/reefer-edge
action=install
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=${2:?--prefix needs a folder}; shift 2 ;;
    --uninstall) action=uninstall; shift ;;
    --purge) action=purge; shift ;;
    *) echo "install.sh: unknown argument $1 (--prefix DIR, --uninstall, --purge)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "install.sh: run it as root" >&2; exit 1; }
unit=/etc/systemd/system/reefer-edge.service
systemd_running() { [ -d /run/systemd/system ]; }

# Stopped before its files change, however it was left (a pending restart too).
if systemd_running && [ -e "$unit" ]; then systemctl stop reefer-edge.service; fi

case "$action" in
  uninstall | purge)
    if systemd_running && [ -e "$unit" ]; then systemctl disable --quiet reefer-edge.service; fi
    # This tarball's own copy: the installed one may be gone already (--uninstall, then --purge).
    if [ "$action" = purge ]; then "$here/lib/libexec/setup.sh" purge; fi
    rm -rf "$prefix" "$unit" /usr/local/bin/reefer-edge
    if systemd_running; then systemctl daemon-reload; fi
    echo "reefer-edge: removed$([ "$action" = purge ] && echo ", with its outbox and config" || echo "; the outbox and /etc/reefer-edge are kept")"
    exit 0
    ;;
esac

# The new tree beside the old one, then swapped in: an interrupted copy leaves the old intact.
mkdir -p "$(dirname "$prefix")"
rm -rf "$prefix.new"
cp -a "$here/lib" "$prefix.new"
rm -rf "$prefix.old"
if [ -e "$prefix" ]; then mv "$prefix" "$prefix.old"; fi
mv "$prefix.new" "$prefix"
rm -rf "$prefix.old"
ln -sf "$prefix/bin/reefer-edge" /usr/local/bin/reefer-edge
"$prefix/libexec/setup.sh" install
# The unit as shipped names the Debian package's paths.
sed -e "s#^ExecStart=/usr/bin/reefer-edge #ExecStart=$prefix/bin/reefer-edge #" \
  -e "s#^Documentation=.*#Documentation=file:$prefix/README.md#" \
  "$here/reefer-edge.service" >"$unit.new"
mv "$unit.new" "$unit"
# The example is replaced; the operator's agent.yaml beside it is never touched.
install -m 0644 "$here/agent.yaml.example" /etc/reefer-edge/agent.yaml.example
"$prefix/libexec/setup.sh" migrate
if systemd_running; then
  systemctl daemon-reload
  if systemctl is-enabled --quiet reefer-edge.service; then systemctl start reefer-edge.service; fi
fi
echo "reefer-edge: installed in $prefix; next: /etc/reefer-edge/agent.yaml (see agent.yaml.example), the certificates in /etc/reefer-edge/certs, then: reefer-edge doctor --config /etc/reefer-edge/agent.yaml && systemctl enable --now reefer-edge"
