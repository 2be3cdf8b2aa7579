#!/usr/bin/env bash
# A timed release run of `platone certify batch` over N JSON records (default 1,000,000) and the
# straightforward peer (serde_json Value, sorted re-serialisation, SHA-256, rs_merkle per batch
# of 180, a proof per record; one thread) timed on the same file.
#
#   benches/peers/certify/e2e.sh [N] [SCHEME]
#
# The records (Measurement-shaped JSON lines, the shape of benches/benches/certify.rs) are
# written to benches/peers/out/certify/ (git-ignored), never committed.
set -euo pipefail
n=${1:-1000000}
scheme=${2:-sha256}
root=$(cd "$(dirname "$0")/../../.." && pwd)
out="$root/benches/peers/out/certify"
target=${CARGO_TARGET_DIR:-$root/target}
mkdir -p "$out"
records="$out/records-$n.jsonl"
if [ ! -s "$records" ]; then
  python3 - "$n" > "$records" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout
for i in range(n):
    value = repr(230.0 + (i % 977) / 97.0)
    out.write('{"source":"pmu-%d","timestamp":"2024-01-01T%02d:%02d:%02d.%03dZ","kind":"voltage",'
              '"unit":"V","phases":"A","channel":"VA","value":%s,"quality":[]}\n'
              % (i % 16, (i // 3600000) % 24, (i // 60000) % 60, (i // 1000) % 60, i % 1000, value))
PY
fi
(cd "$root" && cargo build --release -q -p platone-examples --bin platone)
echo "records: $records ($(wc -l < "$records") lines, $(du -h "$records" | cut -f1))"
echo "load before: $(uptime)"
rm -rf "$out/run" "$out/ledger"
start=$(date +%s.%N)
"$target/release/platone" certify batch --input "$records" --scheme "$scheme" --batch-size 180 \
  --out "$out/run" --ledger "$out/ledger"
end=$(date +%s.%N)
python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); n=int(sys.argv[3]); print(f'platone certify batch: {s:.2f} s, {n/s/1e6:.2f} M records/s')" "$start" "$end" "$n"
echo "output: $(du -h "$out/run/proofs.jsonl" | cut -f1) of proofs, $(wc -l < "$out/run/certificates.jsonl") certificates"
echo "load after: $(uptime)"
# The peer, and ours in memory, on the same file.
(cd "$root" && PLATONE_CERTIFY_INPUT="$records" cargo bench -q -p platone-benches --bench certify -- \
  --warm-up-time 1 --measurement-time 3 "end_to_end/(peer|platone_$scheme)")
