#!/usr/bin/env bash
# Order intake of the Market Platform over HTTPS, measured with wrk: `platone market serve`
# (release build) behind TLS, an aggregator's token of its embedded issuer on every request,
# keep-alive connections, one offer per POST (each with its own id, 50 locations, 24 slots) into
# one open day-ahead session; every 201 is an order stored in SQLite before the answer
# (DATABASE=postgres: in a throwaway PostgreSQL server with its durable defaults). After the
# run, the orders the operator reads back are compared with the 201s wrk counted (zero lost).
#
#   [DATABASE=sqlite|postgres] benches/peers/market/intake.sh [DURATION_SECS] [CONNECTIONS] [WRK_THREADS]
#
# The rate limit per client address is turned off: wrk's connections all come from 127.0.0.1.
# Then gate closure to published result of a session of CLOSE_ORDERS orders (default 10,000:
# half DSO requests, half offers, 50 locations, 24 slots, posted in bulks of 1,000), cleared
# with dso-first, registered on the file ledger: the time of the operator's
# `POST /api/sessions/{id}/close` (clearing, validation, registration of every award).
#
# Needs wrk (apt-get install wrk), openssl and curl.
set -euo pipefail
cd "$(dirname "$0")/../../.."
DURATION=${1:-20}
CONNECTIONS=${2:-32}
THREADS=${3:-1}
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/platone-target-release}
command -v wrk >/dev/null || { echo "needs wrk: apt-get install wrk" >&2; exit 2; }
CARGO_TARGET_DIR=$TARGET cargo build --release -q -p platone-examples --bin platone
BIN=$TARGET/release/platone
source benches/peers/common.sh
make_certificate market
case ${DATABASE:-sqlite} in
  sqlite) ;;
  postgres) start_postgres; MARKET_DATABASE=$PG_URL ;;
  *) echo "DATABASE is sqlite or postgres" >&2; exit 2 ;;
esac

start_market "$BIN"
SLOTS=$(python3 -c 'import json; print(json.dumps(["t%d" % i for i in range(1, 25)]))')
GATE=$(python3 -c 'import datetime; print((datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2)).isoformat())')
curl -sf --cacert "$WORK/ca.pem" -H "Authorization: Bearer $MO" -H 'Content-Type: application/json' \
  -d "{\"id\": \"bench\", \"kind\": \"day-ahead\", \"slots\": $SLOTS, \"gate_closure\": \"$GATE\"}" \
  "$URL/api/sessions" >/dev/null
echo "wrk: $THREADS threads, $CONNECTIONS keep-alive connections, ${DURATION}s, POST $URL/api/sessions/bench/offers"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s benches/peers/market/intake.lua \
  -H "Authorization: Bearer $AGG" -H 'Content-Type: application/json' \
  "$URL/api/sessions/bench/offers" | tee "$WORK/wrk.out"
STORED=$(curl -s --cacert "$WORK/ca.pem" -H "Authorization: Bearer $MO" "$URL/api/sessions/bench/orders" \
  | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["orders"]))')
REQUESTS=$(awk '/requests in/ {print $1}' "$WORK/wrk.out")
ERRORS=$(awk '/^wrk: .* errors/ {print $4}' "$WORK/wrk.out")
CREATED=$((REQUESTS - ${ERRORS:-0}))
echo "orders stored: $STORED; answered 201: $CREATED; refused or failed: ${ERRORS:-?}"
# Requests in flight when wrk stops may be stored without wrk seeing the answer: at most one
# per connection.
if [ "$STORED" -lt "$CREATED" ] || [ "$STORED" -gt $((CREATED + CONNECTIONS)) ]; then
  echo "LOST ORDERS: stored $STORED, answered 201 $CREATED" >&2
  exit 1
fi

# Gate closure to published result.
ORDERS=${CLOSE_ORDERS:-10000}
curl -sf --cacert "$WORK/ca.pem" -H "Authorization: Bearer $MO" -H 'Content-Type: application/json' \
  -d "{\"id\": \"close\", \"kind\": \"day-ahead\", \"slots\": $SLOTS, \"gate_closure\": \"$GATE\"}" \
  "$URL/api/sessions" >/dev/null
python3 - "$WORK" "$ORDERS" <<'PY'
import json, random, sys
work, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
for kind, count in (("requests", n // 2), ("offers", n - n // 2)):
    for part in range(0, count, 1000):
        orders = []
        for i in range(part, min(part + 1000, count)):
            order = {"id": f"{kind[0]}{i}", "location": f"n{rng.randrange(50)}",
                     "direction": rng.choice(["up", "down"]), "slot": f"t{rng.randrange(24) + 1}",
                     "quantity": round(rng.uniform(0.1, 5.0), 3)}
            order["price"] = round(rng.uniform(40, 120) if kind == "requests" else rng.uniform(5, 90), 2)
            orders.append(order)
        with open(f"{work}/{kind}-{part}.json", "w") as f:
            json.dump({"orders": orders}, f)
PY
for f in "$WORK"/requests-*.json; do
  curl -sf --cacert "$WORK/ca.pem" -H "Authorization: Bearer $DSO" -H 'Content-Type: application/json' \
    --data-binary @"$f" "$URL/api/sessions/close/requests" >/dev/null
done
for f in "$WORK"/offers-*.json; do
  curl -sf --cacert "$WORK/ca.pem" -H "Authorization: Bearer $AGG" -H 'Content-Type: application/json' \
    --data-binary @"$f" "$URL/api/sessions/close/offers" >/dev/null
done
START=$(date +%s.%N)
curl -sf --cacert "$WORK/ca.pem" -H "Authorization: Bearer $MO" -X POST -o "$WORK/closed.json" \
  "$URL/api/sessions/close/close"
END=$(date +%s.%N)
AWARDS=$(curl -s --cacert "$WORK/ca.pem" -H "Authorization: Bearer $MO" "$URL/api/sessions/close/result" \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["awards"]), d["result"]["solve_ms"])')
python3 -c "import json,sys; s=json.load(open('$WORK/closed.json')); print('session', s['status'])"
echo "close of a $ORDERS-order session: $(python3 -c "print(round($END - $START, 3))") s (awards, clearing ms: $AWARDS)"
