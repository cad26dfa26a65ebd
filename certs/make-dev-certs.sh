#!/usr/bin/env bash
# Make a development CA, a server certificate and an mTLS client certificate for hookguard.
#
#   certs/make-dev-certs.sh [OUT_DIR]        # OUT_DIR defaults to certs/dev
#
# Writes ca.{key,crt}, server.{key,crt} (for localhost, 127.0.0.1 and ::1) and
# client.{key,crt}, all signed by the CA. Keys are ECDSA P-256 in PKCS#8 PEM, readable by the
# owner only. An existing CA in OUT_DIR is reused, so clients that already trust it keep
# working; delete OUT_DIR to start over. For development and tests only: never deploy these.
set -euo pipefail

out=${1:-certs/dev}
days_ca=3650
days_leaf=825 # the longest leaf lifetime some TLS clients (Apple's) still accept

umask 077 # keys are created owner-only; certificates are made world-readable below
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A P-256 key in PKCS#8 PEM ("BEGIN PRIVATE KEY"), which rustls reads directly.
new_key() {
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
}

# A random 128-bit serial, so no serial file is left beside the CA.
serial() {
  echo "0x$(openssl rand -hex 16)"
}

# sign NAME SUBJECT EXTENSIONS: a leaf certificate for NAME.key, signed by the CA.
sign() {
  local name=$1 subject=$2 extensions=$3
  new_key "$out/$name.key"
  openssl req -new -key "$out/$name.key" -subj "$subject" -out "$tmp/$name.csr"
  printf '%s\n' "$extensions" >"$tmp/$name.ext"
  openssl x509 -req -in "$tmp/$name.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
    -set_serial "$(serial)" -days "$days_leaf" -sha256 \
    -extfile "$tmp/$name.ext" -out "$out/$name.crt"
}

if [[ -f $out/ca.key && -f $out/ca.crt ]]; then
  echo "reusing the CA in $out" >&2
else
  new_key "$out/ca.key"
  openssl req -x509 -new -key "$out/ca.key" -subj "/O=hookguard dev/CN=hookguard dev CA" \
    -set_serial "$(serial)" -days "$days_ca" -sha256 -out "$out/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash"
fi

# rustls (webpki) matches the host name against subjectAltName only, never the CN, and
# rejects a CA certificate used as a leaf: hence the SANs and CA:FALSE.
sign server "/O=hookguard dev/CN=localhost" "\
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid"

sign client "/O=hookguard dev/CN=hookguard dev client" "\
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid"

chmod 644 "$out"/*.crt
openssl verify -CAfile "$out/ca.crt" "$out/server.crt" "$out/client.crt" >&2
echo "wrote ca, server and client certificates and keys to $out" >&2
