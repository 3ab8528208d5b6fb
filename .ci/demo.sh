#!/usr/bin/env bash
# The demo as a new user builds it: the visit-counter crate alone (not the
# workspace, whose feature unification would hide an engine missing from the
# demo's own build), started on every engine of the README's tables by the
# environment alone, three visits counted through a cookie jar (and, on
# axum, seen in the demo's Prometheus metrics).
# Needs the services of .ci/services.sh. Leaves nothing behind: its own
# tables are dropped, its own key prefixes and directories removed.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --bin visit-counter
cargo build -p actix-visit-counter
bin=target/debug/visit-counter
work=$(mktemp -d)
chmod 700 "$work"
tag="ci_demo_$$"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  psql -h 127.0.0.1 -U postgres -d test -qc "DROP TABLE IF EXISTS $tag" >/dev/null 2>&1 || true
  mysql -h 127.0.0.1 -u root test -e "DROP TABLE IF EXISTS $tag" >/dev/null 2>&1 || true
  redis-cli -p 6379 --scan --pattern "$tag*" 2>/dev/null | xargs -r redis-cli -p 6379 del >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# run NAME VAR=VALUE…: start the demo with these variables, count three visits.
run() {
  local name=$1; shift
  local port; port=$(free_port)
  local jar="$work/$name.jar" log="$work/$name.log"
  env SECRET_KEY="ci-demo-secret-$tag-0123456789-abcdefghijklmnopqrstuvwxyz" \
    BIND="127.0.0.1:$port" RUST_LOG=warn "$@" "$bin" >"$log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { echo "FAIL $name: the demo exited"; cat "$log"; return 1; }
    sleep 0.1
  done
  local got
  for n in 1 2 3; do
    got=$(curl -sS --max-time 10 -c "$jar" -b "$jar" "http://127.0.0.1:$port/visit/")
    if [ "$got" != "Visit count:$n" ]; then
      echo "FAIL $name: visit $n answered '$got'"
      cat "$log"
      kill "$pid"
      return 1
    fi
  done
  # The axum demo serves its metrics: the visits must show there.
  local what="Visit count:1, 2, 3"
  if [ "$serves_metrics" = yes ]; then
    got=$(curl -sS --max-time 10 "http://127.0.0.1:$port/metrics")
    for want in 'sessionkit_sessions_created_total{engine="' \
                'sessionkit_store_duration_seconds_bucket{op="create",engine="' \
                'sessionkit_store_duration_seconds_count{op="load",engine="'; do
      if ! grep -qF "$want" <<<"$got"; then
        echo "FAIL $name: /metrics has no $want"
        echo "$got"
        kill "$pid"
        return 1
      fi
    done
    what="$what; /metrics counts them"
  fi
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  echo "ok   $name: $what"
}

serves_metrics=yes
pg="postgres://postgres@127.0.0.1:5432/test"
my="mysql://root@127.0.0.1:3306/test"
cluster="redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002"

run db-sqlite        SESSION_ENGINE=db SESSION_DB_URL="sqlite://$work/sessions.sqlite3"
run db-postgres      SESSION_ENGINE=db SESSION_DB_URL="$pg" SESSION_DB_TABLE="$tag"
run db-mysql         SESSION_ENGINE=db SESSION_DB_URL="$my" SESSION_DB_TABLE="$tag"
run file             SESSION_ENGINE=file SESSION_FILE_PATH="$work"
run signed_cookies   SESSION_ENGINE=signed_cookies
run cache-memory     SESSION_ENGINE=cache SESSION_CACHE_URL=memory://
run cache-redis      SESSION_ENGINE=cache SESSION_CACHE_URL=redis://127.0.0.1:6379 SESSION_CACHE_KEY_PREFIX="$tag:"
run cache-cluster    SESSION_ENGINE=cache SESSION_CACHE_URL="$cluster" SESSION_CACHE_KEY_PREFIX="$tag:"
run cache-memcached  SESSION_ENGINE=cache SESSION_CACHE_URL=memcache://127.0.0.1:11211 SESSION_CACHE_KEY_PREFIX="$tag:"
run cached_db-redis  SESSION_ENGINE=cached_db SESSION_DB_URL="$pg" SESSION_DB_TABLE="$tag" \
                     SESSION_CACHE_URL=redis://127.0.0.1:6379 SESSION_CACHE_KEY_PREFIX="$tag:cdb:"
run cached_db-memcached SESSION_ENGINE=cached_db SESSION_DB_URL="$my" SESSION_DB_TABLE="$tag" \
                     SESSION_CACHE_URL=memcache://127.0.0.1:11211 SESSION_CACHE_KEY_PREFIX="$tag:cdb:"
run cached_db-memory SESSION_ENGINE=cached_db SESSION_DB_URL="sqlite://$work/cdb-mem.sqlite3" \
                     SESSION_CACHE_URL=memory:// SESSION_CACHE_SINGLE_PROCESS=true
run cached_db-cluster SESSION_ENGINE=cached_db SESSION_DB_URL="sqlite://$work/cdb.sqlite3" \
                     SESSION_CACHE_URL="$cluster" SESSION_CACHE_KEY_PREFIX="$tag:cdb:"
# The same demo on actix-web: the same session core, so a few engines suffice.
bin=target/debug/actix-visit-counter
serves_metrics=no
run actix-db-sqlite     SESSION_ENGINE=db SESSION_DB_URL="sqlite://$work/actix.sqlite3"
run actix-signed_cookies SESSION_ENGINE=signed_cookies
run actix-cache-redis   SESSION_ENGINE=cache SESSION_CACHE_URL=redis://127.0.0.1:6379 SESSION_CACHE_KEY_PREFIX="$tag:actix:"
run actix-cached_db-memcached SESSION_ENGINE=cached_db SESSION_DB_URL="$pg" SESSION_DB_TABLE="$tag" \
                     SESSION_CACHE_URL=memcache://127.0.0.1:11211 SESSION_CACHE_KEY_PREFIX="$tag:actix:cdb:"
echo "demo: three visits counted on 13 configurations with axum and 4 with actix-web"
