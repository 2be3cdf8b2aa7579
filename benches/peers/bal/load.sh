#!/usr/bin/env bash
# The BAL load test: `platone sim` publishes through Mosquitto to `platone bal`, at increasing
# loads; each load also goes to a plain QoS 1 subscriber (mosquitto_sub) for comparison.
#
#   benches/peers/bal/load.sh [DURATION_SECS] [PMU COUNTS...]
#   MQ_INFLIGHT=4000 benches/peers/bal/load.sh ...   # Mosquitto's max_inflight_messages (1000)
#   CHAIN=1 benches/peers/bal/load.sh ...             # the BAL anchors on anvil (1-second blocks)
#
# Each PMU sends 50 SOGNO JSON frames per second of 13 measurements (650 measurements/s). For
# every load it prints: what was sent, what Mosquitto delivered to mosquitto_sub and how fast,
# what the BAL stored (zero loss = stored equals sent) and how fast, and the mean time from a
# measurement's arrival to its batch's anchoring. Needs mosquitto, mosquitto_sub, python3.
# With CHAIN=1 the BAL runs with `--ledger eth:` on an anvil mining one block a second (from
# `npm ci`, or PLATONE_ANVIL), every load on a fresh deployment; each load also reports the
# anchor transactions, their gas, and the gas per million measurements.
set -euo pipefail
cd "$(dirname "$0")/../../.."
DURATION=${1:-20}
shift || true
LOADS=("$@")
[ ${#LOADS[@]} -gt 0 ] || LOADS=(20 40 80 120)
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/platone-target}
FEATURES=()
[ -n "${CHAIN:-}" ] && FEATURES=(--features chain)
CARGO_TARGET_DIR=$TARGET cargo build --release -q -p platone-examples --bin platone "${FEATURES[@]}"
BIN=$TARGET/release/platone
source benches/peers/common.sh
now() { date +%s.%N; }
metric() { curl -s "http://127.0.0.1:$HTTP/metrics" | awk -v m="platone_bal_$1" '$1 == m {print $2}'; }

MQ=$(free_port)
cat > "$WORK/mosquitto.conf" <<CONF
listener $MQ 127.0.0.1
allow_anonymous true
max_inflight_messages ${MQ_INFLIGHT:-1000}
max_queued_messages 10000000
persistence false
CONF
mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
PIDS+=($!)
sleep 0.5
URL=mqtt://127.0.0.1:$MQ
if [ -n "${CHAIN:-}" ]; then
  ANVIL=${PLATONE_ANVIL:-node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil}
  [ -x "$ANVIL" ] || { echo "CHAIN=1 needs anvil: run npm ci, or set PLATONE_ANVIL" >&2; exit 1; }
  RPC_PORT=$(free_port)
  RPC=http://127.0.0.1:$RPC_PORT
  "$ANVIL" --port "$RPC_PORT" --block-time 1 --silent >"$WORK/anvil.log" 2>&1 &
  PIDS+=($!)
  until curl -sf -X POST -H 'Content-Type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$RPC" >/dev/null; do sleep 0.1; done
  # anvil's first well-known development key.
  echo ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 >"$WORK/anchorer.key"
fi
# The gas of every anchor transaction in an anchor journal, summed: "transactions gas".
anchor_gas() {
  python3 - "$1" "$RPC" <<'PY'
import json, sys, urllib.request
done = {json.loads(l).get("anchored_by") for l in open(sys.argv[1]) if l.strip()} - {None}
gas = 0
for tx in done:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionReceipt",
                       "params": [tx]}).encode()
    req = urllib.request.Request(sys.argv[2], body, {"Content-Type": "application/json"})
    gas += int(json.load(urllib.request.urlopen(req))["result"]["gasUsed"], 16)
print(len(done), gas)
PY
}
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); duration ${DURATION} s per load; Mosquitto max_inflight_messages ${MQ_INFLIGHT:-1000}"

for PMUS in "${LOADS[@]}"; do
  SIM=(--mqtt "$URL" --pmus "$PMUS" --rate 50 --duration "$DURATION" --in-flight "${MQ_INFLIGHT:-1000}" --json)

  # 1. Mosquitto alone, to a plain QoS 1 subscriber.
  mosquitto_sub -h 127.0.0.1 -p "$MQ" -q 1 -t 'platone/bal/devices/#' -F '%t' >"$WORK/sub.out" &
  SUB=$!
  sleep 0.3
  T0=$(now)
  SENT=$("$BIN" sim "${SIM[@]}" --client-id sim-baseline)
  PACKETS=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["packets"])' "$SENT")
  MEASUREMENTS=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["measurements"])' "$SENT")
  while [ "$(wc -l <"$WORK/sub.out")" -lt "$PACKETS" ]; do sleep 0.05; done
  T1=$(now)
  kill $SUB; wait $SUB 2>/dev/null || true
  SUB_RATE=$(python3 -c "print(round($MEASUREMENTS / ($T1 - $T0)))")

  # 2. The BAL, on its own data directory.
  HTTP=$(free_port)
  # A client id of its own per load: Mosquitto keeps the persistent session of the previous
  # load's BAL, and would hand it the baseline's messages queued for it.
  echo "mqtt_client_id = \"platone-bal-load-$PMUS-$$\"" >"$WORK/bal.toml"
  "$BIN" sim --print-config --pmus "$PMUS" --rate 50 >>"$WORK/bal.toml"
  rm -rf "$WORK/data"
  LEDGER=()
  if [ -n "${CHAIN:-}" ]; then
    "$BIN" chain deploy --rpc "$RPC" --key "$WORK/anchorer.key" --out "$WORK/deployment.json" 2>/dev/null
    LEDGER=(--ledger "eth:$WORK/deployment.json" --chain-key "$WORK/anchorer.key")
  fi
  "$BIN" bal --config "$WORK/bal.toml" --mqtt "$URL" --data "$WORK/data" --http "127.0.0.1:$HTTP" --insecure-http \
    --token dso=t "${LEDGER[@]}" >"$WORK/bal.log" 2>&1 &
  BAL=$!
  PIDS+=($BAL)
  until curl -sf "http://127.0.0.1:$HTTP/health" >/dev/null; do sleep 0.1; done
  T0=$(now)
  "$BIN" sim "${SIM[@]}" --client-id sim-bal >/dev/null
  DEADLINE=$(python3 -c "print($(now) + 120)")
  while :; do
    STORED=$(metric measurements_stored_total); BATCHED=$(metric measurements_batched_total)
    [ "${STORED:-0}" -ge "$MEASUREMENTS" ] && [ "${BATCHED:-0}" -ge "$STORED" ] && break
    if python3 -c "import sys; sys.exit(0 if $(now) > $DEADLINE else 1)"; then break; fi
    sleep 0.05
  done
  T1=$(now)
  BAL_RATE=$(python3 -c "print(round(${STORED:-0} / ($T1 - $T0)))")
  PACKET_RATE=$(python3 -c "print(round($PACKETS / ($T1 - $T0)))")
  # Every sealed batch anchored (on chain: mined and recorded); the last partial batch of each
  # PMU stays open until its window closes.
  DEADLINE=$(python3 -c "print($(now) + 120)")
  until [ "$(metric batches_anchored_total)" -ge "$(metric batches_sealed_total)" ] 2>/dev/null; do
    if python3 -c "import sys; sys.exit(0 if $(now) > $DEADLINE else 1)"; then break; fi
    sleep 0.2
  done
  LAT_SUM=$(metric anchor_latency_milliseconds_total); CERTIFIED=$(metric measurements_certified_total)
  LATENCY=$(python3 -c "print(round(${LAT_SUM:-0} / max(${CERTIFIED:-0}, 1)))")
  DEAD=$(metric packets_dead_lettered_total)
  kill -TERM $BAL; wait $BAL 2>/dev/null || true
  LOSS=$((MEASUREMENTS - ${STORED:-0}))
  echo "pmus=$PMUS sent=$MEASUREMENTS measurements/$PACKETS packets | mosquitto_sub: $SUB_RATE measurements/s | BAL: stored $STORED (lost $LOSS, dead letters $DEAD), certified $CERTIFIED, $BAL_RATE measurements/s, $PACKET_RATE packets/s, mean arrival→anchor $LATENCY ms"
  if [ -n "${CHAIN:-}" ]; then
    read -r TXS GAS < <(anchor_gas "$WORK/data/chain-ledger/anchors.jsonl")
    echo "  chain: $TXS anchor transactions, $GAS gas, $(python3 -c "print(round($GAS * 1e6 / max(${CERTIFIED:-0}, 1)))") gas per million measurements"
  fi
done
