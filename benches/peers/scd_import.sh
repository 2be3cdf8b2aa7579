#!/usr/bin/env bash
# `platone scd import --from-cim` (release build) against its Python peer (ElementTree +
# sqlite3.executemany, scd_import_python.py) on the same generated 15-minute dump of 2,000
# meters (216,000 readings, ~30 MB; platone-cim's generator, written to
# benches/peers/out/cim-dump.xml by `cargo bench -p platone-benches --bench cim`).
#
# Each side imports into a fresh SQLite file, then imports the same dump again: the second run
# must insert nothing (idempotence). Prints wall-clock seconds, readings/s and the process CPU
# time (user + system, /usr/bin/time) for each run, and the load average after each round.
#
# Usage: benches/peers/scd_import.sh [DUMP.xml] [RUNS]
#   PLATONE_BIN  the binary (default: target/release/platone; build it with
#                `cargo build --release -p platone-examples --bin platone`)
#   CARGO_TARGET_DIR  where that build went (default: target/)
#   PYTHON       the interpreter for the peer (default: python3)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dump="${1:-$here/out/cim-dump.xml}"
runs="${2:-3}"
bin="${PLATONE_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/platone}"
python="${PYTHON:-python3}"
[ -f "$dump" ] || { echo "no dump at $dump: run cargo bench -p platone-benches --bench cim" >&2; exit 2; }
[ -x "$bin" ] || { echo "no binary at $bin" >&2; exit 2; }
readings=$(grep -c '<mr:value>' "$dump")
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

rate() { awk -v n="$readings" -v s="$1" 'BEGIN { printf "%.3f s, %.0f readings/s", s, n / s }'; }
# Runs a command; prints its wall-clock and CPU (user + system) seconds, its output kept in
# $work/out.
timed() {
  local t
  t=$( { /usr/bin/time -f "%e %U %S" "$@" > "$work/out" 2>"$work/err"; } 2>&1; tail -1 "$work/err")
  awk '{ printf "%s %.2f", $1, $2 + $3 }' <<< "$t"
}
run() {
  local label="$1"; shift
  local wall cpu
  read -r wall cpu <<< "$(timed "$@")"
  printf '%-30s %s (CPU %s s)  [%s]\n' "$label" "$(rate "$wall")" "$cpu" "$(grep -v '^conflict' "$work/out" | tail -1)"
}

echo "dump: $dump ($readings readings), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$runs"); do
  rm -f "$work"/rust.db*
  run "platone scd import, fresh:" "$bin" scd import --db "sqlite://$work/rust.db" --from-cim "$dump"
  run "platone scd import, again:" "$bin" scd import --db "sqlite://$work/rust.db" --from-cim "$dump"
  rm -f "$work"/py.db*
  run "python peer, fresh:" "$python" "$here/scd_import_python.py" "$dump" "$work/py.db"
  run "python peer, again:" "$python" "$here/scd_import_python.py" "$dump" "$work/py.db"
  echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
done
