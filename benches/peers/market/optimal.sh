#!/usr/bin/env bash
# The `optimal` clearing of a generated radial case through the Market Platform, end to end,
# beside the Python + HiGHS peer (benches/peers/market_highspy.py) on the same case:
# `platone market serve` (release build, HTTPS, embedded issuer) takes the case's network,
# slots, requests (as a DSO) and offers (as an aggregator) over REST; the operator's
# `POST /api/sessions/{id}/close` is timed: clearing with `optimal`, the DC line-loading
# validation on the case's network, registration of the result and of every award on the file
# ledger. Each case runs REPEAT sessions; the median and the best are printed, with the
# welfare, which is checked against `platone market clear` on the file.
#
#   benches/peers/market/optimal.sh [BUSES OFFERS REQUESTS SLOTS] [REPEAT]
#   (default: 33 200 40 8, 5 sessions)
#
# The peer runs when benches/peers/.venv has highspy (requirements-market.txt; see
# docs/benchmarks.md). Needs openssl and curl.
set -euo pipefail
cd "$(dirname "$0")/../../.."
BUSES=${1:-33}
OFFERS=${2:-200}
REQUESTS=${3:-40}
SLOTS=${4:-8}
REPEAT=${5:-5}
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/platone-target-release}
CARGO_TARGET_DIR=$TARGET cargo build --release -q -p platone-examples --bin platone
BIN=$TARGET/release/platone
source benches/peers/common.sh
make_certificate market

CASE="$WORK/market-${BUSES}bus.json"
"$BIN" market generate --network "radial:$BUSES" --offers "$OFFERS" --requests "$REQUESTS" \
  --slots "$SLOTS" --seed 1 --output "$CASE"
"$BIN" market clear "$CASE" --algorithm optimal --output "$WORK/file-result.json"

start_market "$BIN"
post() { curl -sf --cacert "$WORK/ca.pem" -H "Authorization: Bearer $1" \
  -H 'Content-Type: application/json' --data-binary @"$2" "$URL$3"; }

# The case as the platform takes it: one session per run, its orders posted by one DSO and
# one aggregator (the participant and role of the file are the caller's on the platform).
python3 - "$CASE" "$WORK" "$REPEAT" <<'PY'
import datetime, json, sys
case, work, repeat = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3])
gate = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2)).isoformat()
strip = lambda o: {k: v for k, v in o.items() if k not in ("participant", "role", "arrival")}
for run in range(repeat):
    spec = {"id": f"optimal-{run}", "kind": "day-ahead", "slots": case["slots"],
            "gate_closure": gate, "algorithm": "optimal", "unit": case.get("unit", "MW"),
            "network": case["network"]}
    if case.get("location_rule"):
        spec["location_rule"] = case["location_rule"]
    json.dump(spec, open(f"{work}/session-{run}.json", "w"))
json.dump({"orders": [strip(r) for r in case["requests"]]}, open(f"{work}/requests.json", "w"))
json.dump({"orders": [strip(o) for o in case["offers"]]}, open(f"{work}/offers.json", "w"))
PY
TIMES=()
for run in $(seq 0 $((REPEAT - 1))); do
  post "$MO" "$WORK/session-$run.json" /api/sessions >/dev/null
  post "$DSO" "$WORK/requests.json" "/api/sessions/optimal-$run/requests" >/dev/null
  post "$AGG" "$WORK/offers.json" "/api/sessions/optimal-$run/offers" >/dev/null
  START=$(date +%s%N)
  curl -sf --cacert "$WORK/ca.pem" -H "Authorization: Bearer $MO" -X POST -o /dev/null \
    "$URL/api/sessions/optimal-$run/close"
  END=$(date +%s%N)
  TIMES+=($(( (END - START) / 1000 )))
done
curl -sf --cacert "$WORK/ca.pem" -H "Authorization: Bearer $MO" \
  "$URL/api/sessions/optimal-0/result" >"$WORK/platform-result.json"
python3 - "$WORK" "${TIMES[@]}" <<'PY'
import json, statistics, sys
work, times = sys.argv[1], sorted(int(t) / 1000 for t in sys.argv[2:])
platform = json.load(open(f"{work}/platform-result.json"))
file = json.load(open(f"{work}/file-result.json"))
print(f"platform close (optimal, validation, registration): median {statistics.median(times):.1f} ms, "
      f"best {times[0]:.1f} ms over {len(times)} sessions; clearing alone {platform['result']['solve_ms']:.2f} ms")
print(f"welfare: platform {platform['result']['welfare']:.3f}, platone market clear {file['welfare']:.3f}; "
      f"verdicts {len(platform['verdicts'])}, awards {len(platform['awards'])}")
PY
if [ -x benches/peers/.venv/bin/python ] && benches/peers/.venv/bin/python -c 'import highspy' 2>/dev/null; then
  benches/peers/.venv/bin/python benches/peers/market_highspy.py "$CASE" --repeat "$REPEAT"
else
  echo "peer skipped: benches/peers/.venv has no highspy (pip install -r benches/peers/requirements-market.txt)"
fi
