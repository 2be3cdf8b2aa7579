#!/usr/bin/env bash
# The authenticated request path of a Platone service over HTTPS, measured with wrk: the BAL
# (`platone bal`, release build) behind TLS, a bearer token of its embedded issuer on every
# request, keep-alive connections. The route is `GET /api/measurements?pod=POD-1&limit=1` on an
# empty store (routing, TLS, the token check, one indexed SQLite query and a JSON answer), or
# ROUTE: `ROUTE=/api/batches/none` answers 404 from the ledger's index without the store (TLS,
# the token check, routing and a small handler).
#
#   benches/peers/service/https.sh [DURATION_SECS] [CONNECTIONS] [WRK_THREADS]
#   ROUTE=/api/batches/none benches/peers/service/https.sh 20 64 1
#
# The rate limit per client address is turned off (`[api] requests_per_second = 0`): wrk's
# connections all come from 127.0.0.1. Needs wrk (apt-get install wrk), openssl and curl.
set -euo pipefail
cd "$(dirname "$0")/../../.."
DURATION=${1:-20}
CONNECTIONS=${2:-64}
THREADS=${3:-1}
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/platone-target-release}
command -v wrk >/dev/null || { echo "needs wrk: apt-get install wrk" >&2; exit 2; }
CARGO_TARGET_DIR=$TARGET cargo build --release -q -p platone-examples --bin platone
BIN=$TARGET/release/platone
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# A CA and a server certificate for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj "/CN=bench CA" -keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
  -keyout "$WORK/bal.key" -out "$WORK/bal.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$WORK/ext"
openssl x509 -req -in "$WORK/bal.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
  -CAcreateserial -days 1 -extfile "$WORK/ext" -out "$WORK/bal.pem" 2>/dev/null

HTTP=$(free_port)
MQ=$(free_port)
cat > "$WORK/bal.toml" <<CONF
embedded_broker = "127.0.0.1:$MQ"
[api]
requests_per_second = 0
[[pods]]
id = "POD-1"
customer = "cust-1"
devices = ["pmu-1"]
CONF
echo "bench=bench-secret:dso" > "$WORK/clients"
"$BIN" bal --config "$WORK/bal.toml" --data "$WORK/data" --http "127.0.0.1:$HTTP" \
  --tls-cert "$WORK/bal.pem" --tls-key "$WORK/bal.key" --client-file "$WORK/clients" \
  >"$WORK/bal.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
  curl -s --cacert "$WORK/ca.pem" "https://127.0.0.1:$HTTP/health" >/dev/null && break
  sleep 0.1
done
TOKEN=$(curl -s --cacert "$WORK/ca.pem" -u bench:bench-secret -d grant_type=client_credentials \
  "https://127.0.0.1:$HTTP/oauth/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
URL="https://127.0.0.1:$HTTP${ROUTE:-/api/measurements?pod=POD-1&limit=1}"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/ca.pem" -H "Authorization: Bearer $TOKEN" "$URL")
case "$STATUS" in
  200|404) echo "the route answers $STATUS" ;;
  *) echo "the route answered $STATUS" >&2; cat "$WORK/bal.log" >&2; exit 1 ;;
esac
echo "wrk: $THREADS threads, $CONNECTIONS keep-alive connections, ${DURATION}s, $URL"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
  -H "Authorization: Bearer $TOKEN" "$URL"
