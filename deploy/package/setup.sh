#!/bin/sh
# What installing, upgrading and purging reefer-edge do to the system, in one place: the .deb's
# maintainer scripts and the tarball's install.sh both call it.
#
#   setup.sh install   the system user and group (in dialout for the RS-485 adapters), the
#                      config and state directories; idempotent, enables nothing
#   setup.sh migrate   brings an existing outbox's schema up to this version's, as the service
#                      user, while the service is stopped (an upgrade); no outbox: nothing to do
#   setup.sh migrate-needed
#                      exits 0 when `migrate` has work to do (or cannot tell), 1 when the outbox is
#                      up to date or absent; asked while the old agent still runs
#   setup.sh purge     removes the outbox and /etc/reefer-edge (the operator's config and
#                      certificates); the user is kept, as Debian keeps system users
set -eu
user=reefer-edge
etc=/etc/reefer-edge
state=/var/lib/reefer-edge
lib=$(dirname "$(dirname "$(readlink -f "$0")")")

case "${1:-}" in
  install)
    getent group "$user" >/dev/null || groupadd --system "$user"
    getent passwd "$user" >/dev/null ||
      useradd --system --gid "$user" --home-dir "$state" --no-create-home \
        --shell /usr/sbin/nologin --comment "reefer-edge gateway agent" "$user"
    # Serial adapters (/dev/ttyUSB*, /dev/ttyAMA*) belong to dialout.
    if getent group dialout >/dev/null; then usermod --append --groups dialout "$user"; fi
    install -d -m 0755 "$etc"
    # The agent reads its certificate and CA as its own user; the private key stays root's and
    # reaches the service through systemd's LoadCredential.
    install -d -m 0750 -o root -g "$user" "$etc/certs"
    install -d -m 0750 -o "$user" -g "$user" "$state"
    # The outbox is the service's: files left by a `reefer-edge run` as root would stop it (and
    # the migration below) with "attempt to write a readonly database".
    chown -R "$user:$user" "$state"
    ;;
  migrate)
    [ -e "$state/outbox.db" ] || exit 0
    # Three tries, 2 s apart: the agent stopped a moment ago, and on a loaded machine its last
    # writes can still hold the database (CI saw a migration fail once in several runs, never by
    # hand). A migration is one transaction per step, so trying again is safe; each failure's
    # error goes to stderr, where dpkg's output (and the update's reason) keeps it.
    for try in 1 2 3; do
      if runuser -u "$user" -- "$lib/bin/reefer-edge" outbox migrate --path "$state/outbox.db"; then
        exit 0
      fi
      echo "reefer-edge: outbox migration failed (try $try of 3)" >&2
      [ "$try" -lt 3 ] && sleep 2
    done
    exit 1
    ;;
  migrate-needed)
    [ -e "$state/outbox.db" ] || exit 1
    if runuser -u "$user" -- "$lib/bin/reefer-edge" outbox migrate --check --path "$state/outbox.db" >/dev/null 2>&1; then
      exit 1
    fi
    exit 0
    ;;
  purge)
    rm -rf "$state" "$etc"
    ;;
  *)
    echo "usage: setup.sh install|migrate|migrate-needed|purge" >&2
    exit 2
    ;;
esac
