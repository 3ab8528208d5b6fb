#!/usr/bin/env bash
# Starts every server the tests talk to, on loopback, if it is not already up.
# Idempotent: developers run it by hand; .ci/run runs it (`start`).
# The start commands are this machine kind's (Debian packages, run as root).
#   PostgreSQL 5432, MariaDB 3306, Redis 6379 (this machine's own services),
#   Memcached 11211 (installed if missing), a 3-node Redis Cluster on 7000-7002
#   (ours, in a temp dir; stop it with `.ci/services.sh stop-cluster`).
set -euo pipefail

CLUSTER_PORTS=(7000 7001 7002)
CLUSTER_DIR=${SESSIONKIT_CLUSTER_DIR:-/tmp/sessionkit-redis-cluster}

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() { # port name
  for _ in $(seq 1 60); do up "$1" && return 0; sleep 1; done
  echo "$2 did not come up on 127.0.0.1:$1" >&2
  return 1
}

start_machine_services() {
  if ! up 5432; then
    # The newest installed cluster version, should there be several.
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start
    wait_for 5432 PostgreSQL
  fi
  if ! up 3306; then
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    wait_for 3306 MariaDB
  fi
  if ! up 6379; then
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    wait_for 6379 Redis
  fi
}

start_memcached() {
  if ! command -v memcached >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq memcached >/dev/null
  fi
  if ! up 11211; then
    memcached -d -u root -l 127.0.0.1 -p 11211 -m 64
    wait_for 11211 Memcached
  fi
}

start_cluster() {
  local all_up=1
  for p in "${CLUSTER_PORTS[@]}"; do up "$p" || all_up=0; done
  if [ "$all_up" = 1 ] && redis-cli -p "${CLUSTER_PORTS[0]}" cluster info 2>/dev/null | grep -q 'cluster_state:ok'; then
    return 0
  fi
  stop_cluster
  mkdir -p "$CLUSTER_DIR"
  for p in "${CLUSTER_PORTS[@]}"; do
    redis-server --port "$p" --bind 127.0.0.1 --daemonize yes --cluster-enabled yes \
      --cluster-config-file "nodes-$p.conf" --dir "$CLUSTER_DIR" --save "" --appendonly no \
      --logfile "$CLUSTER_DIR/$p.log"
    wait_for "$p" "Redis Cluster node"
  done
  local nodes=()
  for p in "${CLUSTER_PORTS[@]}"; do nodes+=("127.0.0.1:$p"); done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >/dev/null
  for _ in $(seq 1 30); do
    redis-cli -p "${CLUSTER_PORTS[0]}" cluster info | grep -q 'cluster_state:ok' && return 0
    sleep 1
  done
  echo "Redis Cluster did not reach cluster_state:ok" >&2
  return 1
}

stop_cluster() {
  for p in "${CLUSTER_PORTS[@]}"; do
    redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true
  done
  rm -rf "$CLUSTER_DIR"
}

case "${1:-start}" in
  start)
    start_machine_services
    start_memcached
    start_cluster
    echo "services up: PostgreSQL 5432, MariaDB 3306, Redis 6379, Memcached 11211, Redis Cluster ${CLUSTER_PORTS[*]}"
    ;;
  stop-cluster) stop_cluster ;;
  *) echo "usage: $0 [start|stop-cluster]" >&2; exit 2 ;;
esac
