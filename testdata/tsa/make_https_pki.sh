#!/usr/bin/env bash
# Carnac's test PKI for an external TSA over HTTPS with published CRLs, on top of the
# workplace's make_test_pki.sh: in $1, the root CA and TSA certificate of that script, the
# TSA certificate issued again with a CRL distribution point https://127.0.0.1:$2/ca.crl, a
# TLS certificate for 127.0.0.1 (tls.crt, tls.key), an `openssl ca` setup (ca.cnf) and its
# first CRL in pub/ca.crl (nothing revoked). Serve it with:
#   TSA_DIR=$1 TLS_CERT=$1/tls.crt TLS_KEY=$1/tls.key python3 tsa_http.py $2
# Revoke the TSA certificate with:
#   openssl ca -config $1/ca.cnf -revoke $1/tsa.crt -keyfile $1/ca.key -cert $1/ca.crt -crl_reason keyCompromise
#   openssl ca -config $1/ca.cnf -gencrl -keyfile $1/ca.key -cert $1/ca.crt -out $1/pub/ca.crl
set -euo pipefail
D=$1
PORT=$2
bash "$(dirname "$0")/make_test_pki.sh" "$D" >/dev/null
cd "$D"
export TSA_DIR="$(pwd)"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tls.key -out tls.csr -subj /CN=127.0.0.1 2>/dev/null
echo "subjectAltName=IP:127.0.0.1" > tls.ext
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tls.crt -days 2 -extfile tls.ext 2>/dev/null
cat > cdp.cnf <<CNF
[tsa_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping
crlDistributionPoints = URI:https://127.0.0.1:$PORT/ca.crl
CNF
openssl x509 -req -in tsa.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tsa.crt -days 30 -extfile cdp.cnf -extensions tsa_ext 2>/dev/null
cat > ca.cnf <<CNF
[ca]
default_ca = c
[c]
database = $TSA_DIR/index.txt
crlnumber = $TSA_DIR/crlnumber
default_md = sha256
default_crl_days = 7
CNF
: > index.txt
echo 01 > crlnumber
mkdir -p pub
openssl ca -config ca.cnf -gencrl -keyfile ca.key -cert ca.crt -out pub/ca.crl 2>/dev/null
