#!/usr/bin/env bash
# `platone scd import --from-cim` (release build) against its Python peer (ElementTree +
# sqlite3.executemany, scd_import_python.py) on the same generated 15-minute dump of 2,000
# meters (216,000 readings, ~30 MB; platone-cim's generator, written to
# benches/peers/out/cim-dump.xml by `cargo bench -p platone-benches --bench cim`).
#
# Each side imports into a fresh SQLite file, then imports the same dump again: the second run
# must insert nothing (idempotence). Prints wall-clock seconds and readings/s for each run.
#
# Usage: benches/peers/scd_import.sh [DUMP.xml] [RUNS]
#   PLATONE_BIN  the binary (default: target/release/platone; build it with
#                `cargo build --release -p platone-examples --bin platone`)
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
timed() { local t0 t1; t0=$(date +%s.%N); "$@" > "$work/out" 2>&1; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'; }

echo "dump: $dump ($readings readings), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$runs"); do
  rm -f "$work"/rust.db*
  s=$(timed "$bin" scd import --db "sqlite://$work/rust.db" --from-cim "$dump")
  echo "platone scd import, fresh:    $(rate "$s")  [$(tail -1 "$work/out")]"
  s=$(timed "$bin" scd import --db "sqlite://$work/rust.db" --from-cim "$dump")
  echo "platone scd import, again:    $(rate "$s")  [$(tail -1 "$work/out")]"
  rm -f "$work"/py.db*
  echo "python peer, fresh:           $("$python" "$here/scd_import_python.py" "$dump" "$work/py.db")"
  echo "python peer, again:           $("$python" "$here/scd_import_python.py" "$dump" "$work/py.db")"
done
