# Helpers the peer scripts share (sourced, not run): a work directory removed on exit with the
# processes started in it, free loopback ports, a throw-away CA and a server certificate for
# 127.0.0.1, waiting for a service's /health, and a token of its embedded issuer.
#
#   source benches/peers/common.sh      # sets WORK, PIDS; append started processes to PIDS

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# make_certificate NAME: $WORK/ca.pem, and $WORK/NAME.pem and $WORK/NAME.key for 127.0.0.1.
make_certificate() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj "/CN=bench CA" -keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$WORK/$1.key" -out "$WORK/$1.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$WORK/ext"
  openssl x509 -req -in "$WORK/$1.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
    -CAcreateserial -days 1 -extfile "$WORK/ext" -out "$WORK/$1.pem" 2>/dev/null
}

# wait_healthy BASE_URL: until BASE_URL/health answers (10 s at most) over the bench CA.
wait_healthy() {
  for _ in $(seq 100); do
    curl -s --cacert "$WORK/ca.pem" "$1/health" >/dev/null && return 0
    sleep 0.1
  done
  echo "$1 did not come up" >&2
  return 1
}

# token BASE_URL ID SECRET: an access token of the service's embedded issuer.
token() {
  curl -s --cacert "$WORK/ca.pem" -u "$2:$3" -d grant_type=client_credentials "$1/oauth/token" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

# start_postgres: a throwaway PostgreSQL server (the newest of Debian's
# /usr/lib/postgresql/*/bin, its durable defaults: fsync and synchronous commit on) in $WORK/pg,
# on 127.0.0.1 and a free port with trust authentication, run as the postgres user when root;
# sets PG_URL (database `bench`). Stopped on exit with the other processes.
start_postgres() {
  local bin port run=()
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$bin" ] || { echo "needs PostgreSQL: apt-get install postgresql" >&2; exit 2; }
  port=$(free_port)
  mkdir -p "$WORK/pg"
  if [ "$(id -u)" = 0 ]; then
    chmod o+x "$WORK"
    chown postgres "$WORK/pg"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$bin/initdb" -D "$WORK/pg/data" -U postgres --auth=trust -E UTF8 >/dev/null
  "${run[@]}" "$bin/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w \
    -o "-p $port -k $WORK/pg -c listen_addresses=127.0.0.1" start >/dev/null
  PIDS+=("$(head -1 "$WORK/pg/data/postmaster.pid")")
  "${run[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres bench
  PG_URL="postgres://postgres@127.0.0.1:$port/bench"
}

# start_market BIN: `BIN market serve` over HTTPS (make_certificate market first) with the
# clients mo (market operator), dso-1 and agg-1 and no rate limit, data in $WORK/data (and the
# platform's tables in $MARKET_DATABASE when set); sets URL and the tokens MO, DSO and AGG.
start_market() {
  local http
  http=$(free_port)
  URL="https://127.0.0.1:$http"
  cat > "$WORK/market.toml" <<CONF
[api]
requests_per_second = 0
clients = ["mo=mo-secret:market-operator", "agg-1=agg-secret:aggregator", "dso-1=dso-secret:dso"]
CONF
  "$1" market serve --config "$WORK/market.toml" --data "$WORK/data" --http "127.0.0.1:$http" \
    ${MARKET_DATABASE:+--database "$MARKET_DATABASE"} \
    --tls-cert "$WORK/market.pem" --tls-key "$WORK/market.key" >"$WORK/market.log" 2>&1 &
  PIDS+=($!)
  wait_healthy "$URL"
  MO=$(token "$URL" mo mo-secret)
  AGG=$(token "$URL" agg-1 agg-secret)
  DSO=$(token "$URL" dso-1 dso-secret)
}
