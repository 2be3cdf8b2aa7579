#!/usr/bin/env bash
# Peer figures for the platone-scd benchmarks (benches/benches/scd.rs): the same data and tables
# with Python's sqlite3 (executemany) and psycopg 3 (binary COPY), see scd_python.py. Starts a
# throwaway PostgreSQL server with PostgreSQL's default durability (fsync on), as the Rust
# benchmark does, on a free loopback port in a temporary directory, and removes it afterwards.
#
# Setup (once): python3 -m venv benches/peers/.venv &&
#   benches/peers/.venv/bin/pip install -r benches/peers/requirements-scd.txt
# Usage: benches/peers/scd_peers.sh [sqlite|postgres]   (default: both)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
python="$here/.venv/bin/python"
[ -x "$python" ] || { echo "$python missing: see the setup line in $0" >&2; exit 1; }
which="${1:-both}"

if [ "$which" != postgres ]; then
    "$python" "$here/scd_python.py" sqlite
fi
[ "$which" = sqlite ] && exit 0

bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL server binaries missing (Debian package postgresql)" >&2; exit 1; }
dir=$(mktemp -d -t platone-pg-peer-XXXXXX)
as=()
if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$dir"
    as=(runuser -u postgres --)
fi
trap '"${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
"${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -p $port" start >/dev/null
"${as[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres peer
"$python" "$here/scd_python.py" postgres "postgres://postgres@127.0.0.1:$port/peer"
