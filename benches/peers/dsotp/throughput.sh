#!/usr/bin/env bash
# The DSOTP throughput test: `platone sim` publishes PMU frames through Mosquitto to
# `platone bal` (as in benches/peers/bal/load.sh, where the BAL's 50,000/s was measured), the BAL stores, certifies and forwards them to platone/dsotp/devices/…, and
# `platone dsotp` calculates power and stores everything (both the forwarded measurements and
# the power service's enriched messages) in its SQLite store — either on a broker of its own fed
# by `platone bridge` (MODE=bridge, the deployment of docs/dsotp.md: a second Mosquitto) or
# subscribed directly to the BAL's broker (MODE=direct).
#
#   benches/peers/dsotp/throughput.sh [DURATION_SECS] [PMU COUNTS...]
#   MODE=direct benches/peers/dsotp/throughput.sh 60 80
#   MODE=both   ...                                     # bridge, then direct, per load
#
# Each PMU sends 50 SOGNO JSON frames per second of 13 measurements (650 measurements/s; 80
# PMUs: 52,000/s, the BAL's goal). For every load it prints what the sim sent, what the BAL
# stored and forwarded, what the DSOTP's power service handled and its recorder stored, the
# rate at which the DSOTP took in the BAL's measurements (forwarded measurements handled by the
# power service and committed by the recorder, over the time from the first publish until the
# DSOTP had caught up), and what was lost (forwarded by the BAL but never stored by the DSOTP).
# The DSOTP's own /health counters are the source: power.handled (PMU messages enriched and
# acknowledged), timeseries.handled (messages whose measurements are committed: each PMU
# message twice, as forwarded and enriched), stored.inserted/duplicates (rows).
# Needs mosquitto, curl, python3.
set -euo pipefail
cd "$(dirname "$0")/../../.."
DURATION=${1:-30}
shift || true
LOADS=("$@")
[ ${#LOADS[@]} -gt 0 ] || LOADS=(40 80)
MODES=${MODE:-bridge}
[ "$MODES" = both ] && MODES="bridge direct"
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/platone-target-release}
[ -n "${NO_BUILD:-}" ] || CARGO_TARGET_DIR=$TARGET cargo build --release -q -p platone-examples --bin platone
BIN=$TARGET/release/platone
source benches/peers/common.sh
now() { date +%s.%N; }
bal_metric() { curl -s "http://127.0.0.1:$BAL_HTTP/metrics" | awk -v m="platone_bal_$1" '$1 == m {print $2}'; }
# dsotp_health FIELD...: the DSOTP's /health counters (power.handled, stored.inserted…).
dsotp_health() {
  curl -s "http://127.0.0.1:$DSOTP_HTTP/health" | python3 -c '
import json, sys
h = json.load(sys.stdin)
out = []
for path in sys.argv[1:]:
    v = h
    for k in path.split("."):
        v = v[k]
    out.append(str(v))
print(" ".join(out))' "$@"
}
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); duration ${DURATION} s per load; modes: $MODES"

for PMUS in "${LOADS[@]}"; do
for MODE in $MODES; do
  rm -rf "$WORK/bal" "$WORK/dsotp"
  BAL_MQ=$(free_port); BAL_HTTP=$(free_port); DSOTP_HTTP=$(free_port)
  printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 1000\nmax_queued_messages 10000000\npersistence false\n' \
    "$BAL_MQ" >"$WORK/bal-mosquitto.conf"
  mosquitto -c "$WORK/bal-mosquitto.conf" >"$WORK/bal-mosquitto.log" 2>&1 &
  BAL_BROKER=$!; PIDS+=($BAL_BROKER)
  sleep 0.5
  echo "mqtt_client_id = \"platone-bal-$PMUS-$MODE-$$\"" >"$WORK/bal.toml"
  "$BIN" sim --print-config --pmus "$PMUS" --rate 50 >>"$WORK/bal.toml"
  "$BIN" bal --config "$WORK/bal.toml" --mqtt "mqtt://127.0.0.1:$BAL_MQ" --data "$WORK/bal" \
    --http "127.0.0.1:$BAL_HTTP" --insecure-http --token dso=t >"$WORK/bal.log" 2>&1 &
  BAL=$!; PIDS+=($BAL)
  until curl -sf "http://127.0.0.1:$BAL_HTTP/health" >/dev/null; do sleep 0.1; done
  STARTED=($BAL $BAL_BROKER)
  if [ "$MODE" = bridge ]; then
    DSOTP_MQ=$(free_port)
    printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 1000\nmax_queued_messages 10000000\npersistence false\n' \
      "$DSOTP_MQ" >"$WORK/mosquitto.conf"
    mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
    MQ=$!; PIDS+=($MQ); STARTED+=($MQ)
    sleep 0.5
    "$BIN" bridge --source "mqtt://127.0.0.1:$BAL_MQ" --sink "mqtt://127.0.0.1:$DSOTP_MQ" \
      --topic 'platone/dsotp/devices/# out 1 "" ""' >"$WORK/bridge.log" 2>&1 &
    BRIDGE=$!; PIDS+=($BRIDGE); STARTED+=($BRIDGE)
    DSOTP_BUS=mqtt://127.0.0.1:$DSOTP_MQ
  else
    DSOTP_BUS=mqtt://127.0.0.1:$BAL_MQ
  fi
  "$BIN" dsotp --bus "$DSOTP_BUS" --bus-client-id "dsotp-$PMUS-$MODE-$$" --data "$WORK/dsotp" \
    --http "127.0.0.1:$DSOTP_HTTP" --insecure-http --client dso=s:dso >"$WORK/dsotp.log" 2>&1 &
  DSOTP=$!; PIDS+=($DSOTP); STARTED+=($DSOTP)
  until curl -sf "http://127.0.0.1:$DSOTP_HTTP/health" >/dev/null; do sleep 0.1; done
  sleep 1  # the bridge's and the DSOTP's subscriptions in place
  T0=$(now)
  SENT=$("$BIN" sim --mqtt "mqtt://127.0.0.1:$BAL_MQ" --pmus "$PMUS" --rate 50 --duration "$DURATION" \
    --in-flight 1000 --json --client-id "sim-$MODE")
  T_SENT=$(now)
  PACKETS=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["packets"])' "$SENT")
  MEASUREMENTS=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["measurements"])' "$SENT")
  # Until the BAL stored and forwarded everything and the DSOTP handled all it forwarded (or
  # nothing moved for 20 s).
  LAST=""; STILL=$(now)
  while :; do
    STORED=$(bal_metric measurements_stored_total); FORWARDED=$(bal_metric messages_forwarded_total)
    read -r POWER REC <<<"$(dsotp_health power.handled timeseries.handled)"
    STATE="$STORED $FORWARDED $POWER $REC"
    if [ "${STORED:-0}" -ge "$MEASUREMENTS" ] && [ "${FORWARDED:-0}" -ge "$PACKETS" ] \
      && [ "$POWER" -ge "$FORWARDED" ] && [ "$REC" -ge $((2 * FORWARDED)) ]; then break; fi
    if [ "$STATE" != "$LAST" ]; then LAST=$STATE; STILL=$(now); T_LAST=$(now)
    elif python3 -c "import sys; sys.exit(0 if $(now) - $STILL > 20 else 1)"; then break; fi
    sleep 0.05
  done
  T1=${T_LAST:-$(now)}
  read -r POWER REC INSERTED DUPS PDEAD RDEAD RETRIES <<<"$(dsotp_health power.handled timeseries.handled \
    stored.inserted stored.duplicates power.dead_lettered timeseries.dead_lettered timeseries.retries)"
  BAL_DEAD=$(bal_metric packets_dead_lettered_total)
  RESULT=$(python3 - "$PACKETS" "$MEASUREMENTS" "${STORED:-0}" "${FORWARDED:-0}" "$POWER" "$REC" "$T0" "$T_SENT" "$T1" <<'PY'
import sys
packets, measurements, bal_stored, forwarded, power, rec = map(int, sys.argv[1:7])
t0, t_sent, t1 = map(float, sys.argv[7:10])
per_packet = measurements / packets
# The forwarded PMU messages fully through the DSOTP: enriched by the power service and
# committed by the recorder (both forms).
through = min(power, rec // 2)
lost = forwarded - through
print(f"{through * per_packet / (t1 - t0):.0f} {lost} {measurements / (t_sent - t0):.0f} {t1 - t_sent:.1f}")
PY
)
  read -r RATE LOST OFFERED TAIL <<<"$RESULT"
  for p in $(printf '%s\n' "${STARTED[@]}" | tac); do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  echo "pmus=$PMUS mode=$MODE sent=$MEASUREMENTS measurements/$PACKETS packets (offered $OFFERED/s) | BAL: stored $STORED, forwarded $FORWARDED packets, dead letters ${BAL_DEAD:-0} | DSOTP: power handled $POWER, recorder handled $REC (rows inserted $INSERTED, duplicates $DUPS, retries $RETRIES, dead letters $PDEAD+$RDEAD) | DSOTP took in $RATE BAL measurements/s, finished ${TAIL} s after the last publish, lost $LOST packets"
done
done
