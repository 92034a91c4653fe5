#!/usr/bin/env bash
# Makes a cluster's TLS files with the openssl command: a CA (DIR/ca.pem, DIR/ca.key; kept if
# DIR already has one) and, for each NAME, a key and a certificate signed by it (DIR/NAME.pem,
# DIR/NAME.key; CN = NAME; subjectAltName = NAME, localhost, 127.0.0.1 and each --san), good
# for both ends of a connection. HTTPS clients check the name they connect to against the
# subjectAltName: give a node's host with --san (DNS:host.example or IP:10.0.0.5).
#   scripts/make-certs.sh --dir DIR [--san DNS:H|IP:A ...] NAME...
#   e.g. scripts/make-certs.sh --dir /etc/p2p-agent/tls node-1 node-2 node-3 client
#        scripts/make-certs.sh --dir /etc/p2p-agent/tls --san IP:10.0.0.4 node-4
# A node's config then names them:
#   "security": {"tls": {"ca": "DIR/ca.pem", "certificate": "DIR/node-1.pem", "key": "DIR/node-1.key"}}
# and clients pass --tls-dir DIR (ca.pem, client.pem, client.key). Copy ca.pem and each node's
# own two files to its host; ca.key stays with whoever signs new members.
set -euo pipefail
dir="" names=() sans=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
    --san) [[ "${2:-}" =~ ^(DNS|IP):[A-Za-z0-9.:_-]+$ ]] || { echo "make-certs.sh: --san: expected DNS:NAME or IP:ADDRESS, got '${2:-}'" >&2; exit 2; }
           sans+=",$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "make-certs.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
  esac
done
[ -n "$dir" ] || { echo "make-certs.sh: --dir is required (see --help)" >&2; exit 2; }
[ ${#names[@]} -gt 0 ] || { echo "make-certs.sh: name at least one certificate to make (see --help)" >&2; exit 2; }
command -v openssl > /dev/null || { echo "make-certs.sh: needs the openssl command (scripts/setup.sh installs it)" >&2; exit 2; }
for n in "${names[@]}"; do
  [[ "$n" =~ ^[A-Za-z0-9._-]{1,64}$ ]] || { echo "make-certs.sh: '$n': expected 1 to 64 letters, digits, '.', '_' or '-'" >&2; exit 2; }
done
mkdir -p "$dir"
umask 077
curve=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
if [ ! -f "$dir/ca.pem" ] || [ ! -f "$dir/ca.key" ]; then
  openssl req -x509 "${curve[@]}" -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 3650 \
    -subj "/CN=p2p-agent cluster CA" 2>/dev/null
fi
for n in "${names[@]}"; do
  openssl req "${curve[@]}" -keyout "$dir/$n.key" -out "$dir/$n.csr" -subj "/CN=$n" 2>/dev/null
  printf 'subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$n" "$sans" > "$dir/$n.ext"
  openssl x509 -req -in "$dir/$n.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -out "$dir/$n.pem" -days 825 -extfile "$dir/$n.ext" 2>/dev/null
  rm -f "$dir/$n.csr" "$dir/$n.ext"
done
chmod 644 "$dir"/*.pem
echo "make-certs: ${names[*]} in $dir (CA $dir/ca.pem)"
