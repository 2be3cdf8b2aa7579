#!/usr/bin/env bash
# Peer figures for the platone-bus MQTT benchmarks: mosquitto_pub → Mosquitto → mosquitto_sub,
# end to end, on a broker configured as in benches/benches/bus.rs (`broker()`): no persistence,
# max_inflight_messages 20, max_queued_messages 0 (no limit), 256-byte payloads.
#
# Usage: benches/peers/bus_mosquitto.sh [MESSAGES]   (default 2000, payload 256 bytes)
set -euo pipefail

N="${1:-2000}"
MOSQUITTO="${PLATONE_MOSQUITTO:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}"
command -v mosquitto_pub >/dev/null || { echo "mosquitto-clients missing" >&2; exit 1; }
[ -x "$MOSQUITTO" ] || { echo "$MOSQUITTO missing" >&2; exit 1; }

dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
user=""
[ "$(id -u)" = 0 ] && user="user root"
cat >"$dir/m.conf" <<CONF
$user
per_listener_settings false
allow_anonymous true
persistence false
max_inflight_messages 20
max_queued_messages 0
listener $port 127.0.0.1
CONF
"$MOSQUITTO" -c "$dir/m.conf" >/dev/null 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
  (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
  sleep 0.05
done

payload=$(head -c 256 /dev/zero | tr '\0' 'x')
for i in $(seq "$N"); do echo "$payload"; done >"$dir/lines"

echo "load: $(uptime)"
for qos in 0 1; do
  mosquitto_sub -h 127.0.0.1 -p "$port" -q "$qos" -t "peer/q$qos" -C "$N" -W 60 >/dev/null &
  sub=$!
  sleep 0.3
  start=$(date +%s.%N)
  mosquitto_pub -h 127.0.0.1 -p "$port" -q "$qos" -t "peer/q$qos" -l <"$dir/lines"
  wait "$sub"
  end=$(date +%s.%N)
  python3 -c "import sys; n=$N; t=$end-$start; print(f'mosquitto_pub -> mosquitto_sub QoS $qos: {n} msgs in {t:.3f} s = {n/t:,.0f} msgs/s')"
done
