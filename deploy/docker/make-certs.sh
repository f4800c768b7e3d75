#!/bin/sh
# The compose fleet's one-shot certificate service: a CA (which also signs every gateway's
# certificate: the fleet shards issue their own from it), the broker's certificate and the
# observer's, in DIR. Runs once; a later `up` finds them and does nothing.
set -eu
dir=${1:?usage: make-certs.sh DIR}
cd "$dir"
if [ -f ready ]; then exit 0; fi
ec() { openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "$@"; }
ec -x509 -keyout ca.key -out ca.pem -days 3650 -subj "/CN=reefer-edge compose CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
for name in broker observer; do
  ec -keyout "$name.key" -out "$name.csr" -subj "/CN=$name"
  if [ "$name" = broker ]; then ext="subjectAltName=DNS:localhost,DNS:broker,IP:127.0.0.1"; else ext="extendedKeyUsage=clientAuth"; fi
  printf '%s\n' "$ext" >"$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
    -sha256 -extfile "$name.ext" -out "$name.pem"
  rm "$name.csr" "$name.ext"
done
# The shards run as uid 10001 and sign with the CA's key: theirs alone, mode 600.
chown 10001:10001 ca.key
chmod 600 ca.key broker.key observer.key
chmod 644 ca.pem broker.pem observer.pem
touch ready
