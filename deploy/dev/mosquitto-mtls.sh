#!/usr/bin/env bash
# Makes a local CA, a broker certificate for localhost, client certificates for gw-0001 and a
# "monitor" subscriber, and a Mosquitto config that works like AWS IoT Core: client certificates
# required, the certificate's CN is the username, and a gateway may publish only under
# dt/reefer/<its CN>/#. Everything goes into ./certs (or the folder given).
#
#   deploy/dev/mosquitto-mtls.sh            # writes ./certs
#   mosquitto -c certs/mosquitto.conf       # broker on localhost:8883
#   npx reefer-edge run --config config/examples/mosquitto-mtls.yaml
set -euo pipefail
dir="${1:-certs}"
port="${PORT:-8883}"
mkdir -p "$dir"
cd "$dir"
umask 077

ec() { echo "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"; }
if [ ! -f ca.pem ]; then
  # shellcheck disable=SC2046
  openssl req -x509 $(ec) -keyout ca.key -out ca.pem -days 825 -subj "/CN=reefer-edge dev CA" 2>/dev/null
fi
issue() { # name [extensions]
  local name=$1
  [ -f "$name.pem" ] && return
  # shellcheck disable=SC2046
  openssl req -new $(ec) -keyout "$name.key" -out "$name.csr" -subj "/CN=$name" 2>/dev/null
  if [ -n "${2:-}" ]; then printf '%s\n' "$2" >"$name.ext"; fi
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$name.pem" \
    -days 825 -sha256 ${2:+-extfile "$name.ext"} 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}
issue broker "subjectAltName=DNS:localhost,IP:127.0.0.1"
issue gw-0001
issue monitor
chmod 600 ./*.key
chmod 644 ./*.pem

here=$(pwd)
cat >acl <<ACL
pattern write dt/reefer/%u/#
pattern write \$aws/things/%u/shadow/#
pattern read \$aws/things/%u/shadow/#
user monitor
topic read #
topic read \$aws/#
ACL
cat >mosquitto.conf <<CONF
listener $port 127.0.0.1
cafile $here/ca.pem
certfile $here/broker.pem
keyfile $here/broker.key
require_certificate true
use_identity_as_username true
acl_file $here/acl
persistence false
log_dest stdout
$( [ "$(id -u)" = 0 ] && echo "user root" )
CONF
echo "wrote $here: ca.pem, broker.*, gw-0001.*, monitor.*, acl, mosquitto.conf"
echo "start the broker:  mosquitto -c $here/mosquitto.conf"
echo "watch it:          mosquitto_sub -h localhost -p $port --cafile $here/ca.pem --cert $here/monitor.pem --key $here/monitor.key -t 'dt/reefer/#' -v"
