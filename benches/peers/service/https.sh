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
source benches/peers/common.sh
make_certificate bal

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
wait_healthy "https://127.0.0.1:$HTTP"
TOKEN=$(token "https://127.0.0.1:$HTTP" bench bench-secret)
URL="https://127.0.0.1:$HTTP${ROUTE:-/api/measurements?pod=POD-1&limit=1}"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/ca.pem" -H "Authorization: Bearer $TOKEN" "$URL")
case "$STATUS" in
  200|404) echo "the route answers $STATUS" ;;
  *) echo "the route answered $STATUS" >&2; cat "$WORK/bal.log" >&2; exit 1 ;;
esac
echo "wrk: $THREADS threads, $CONNECTIONS keep-alive connections, ${DURATION}s, $URL"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
  -H "Authorization: Bearer $TOKEN" "$URL"
