#!/usr/bin/env bash
# Local infrastructure for leadflow: Redis (Debian's redis-server) and a MongoDB-compatible server
# (FerretDB v1 on SQLite), both on loopback, data under .data/.
#
#   scripts/services.sh up       start what is not running; print MONGODB_URI=... and REDIS_URL=...
#   scripts/services.sh down     stop what this script started
#   scripts/services.sh status   print what answers
#   scripts/services.sh install  install the binaries only (redis-server, ferretdb)
#   (any command) --data-dir DIR  keep data in DIR instead of .data/
#
# Idempotent and safe to run concurrently (flock). When MONGODB_URI / REDIS_URL are set, those are
# used as they are and nothing is started for them.
#
# Settings (environment): LEADFLOW_DATA_DIR (default <repo>/.data), LEADFLOW_REDIS_PORT (6390),
# LEADFLOW_MONGO_PORT (27027), LEADFLOW_CACHE_DIR (~/.cache/leadflow).
set -euo pipefail

cmd=${1:-up}
[ "${2:-}" = "--data-dir" ] && [ -n "${3:-}" ] && LEADFLOW_DATA_DIR=$3
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data=${LEADFLOW_DATA_DIR:-$root/.data}
redis_port=${LEADFLOW_REDIS_PORT:-6390}
mongo_port=${LEADFLOW_MONGO_PORT:-27027}
cache=${LEADFLOW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/leadflow}
# v1.24.1 is the version DESIGN.md names; the Go module proxy here refuses it (403, "This module
# version is not available"), so v1.24.0, the nearest release it serves, is the fallback.
ferret_versions=${LEADFLOW_FERRETDB_VERSIONS:-"v1.24.1 v1.24.0"}

log() { printf '[services] %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # wait_for <seconds> <command...>
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

install_redis() {
  command -v redis-server >/dev/null && return 0
  log "installing redis-server from Debian"
  local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >&2
}

ferret_bin() {
  local v
  for v in $ferret_versions; do
    [ -x "$cache/bin/ferretdb-$v" ] && { echo "$cache/bin/ferretdb-$v"; return 0; }
  done
  return 1
}

install_ferretdb() {
  ferret_bin >/dev/null && return 0
  command -v go >/dev/null || { log "Go is needed to build FerretDB"; return 1; }
  mkdir -p "$cache/bin"
  local v dir
  for v in $ferret_versions; do
    log "building FerretDB $v with Go (first run only)"
    # `go install pkg@version` also reads the module's version list to check deprecation, which
    # the proxy refuses here; downloading the exact version and building it avoids that read.
    if dir=$(go mod download -json "github.com/FerretDB/FerretDB@$v" 2>/dev/null | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p') &&
      [ -n "$dir" ] &&
      rm -rf "$cache/src/ferretdb-$v" && mkdir -p "$cache/src" && cp -r "$dir" "$cache/src/ferretdb-$v" &&
      chmod -R u+w "$cache/src/ferretdb-$v" &&
      # a release build reads its version from this file (`bin/task gen-version` upstream)
      echo "$v" >"$cache/src/ferretdb-$v/build/version/version.txt" &&
      (cd "$cache/src/ferretdb-$v" && GOFLAGS=-mod=mod go build -trimpath -o "$cache/bin/ferretdb-$v.tmp" ./cmd/ferretdb) >&2; then
      mv "$cache/bin/ferretdb-$v.tmp" "$cache/bin/ferretdb-$v"
      return 0
    fi
    log "FerretDB $v is not available"
  done
  return 1
}

redis_up() {
  if [ -n "${REDIS_URL:-}" ]; then echo "REDIS_URL=$REDIS_URL"; return 0; fi
  install_redis
  if ! redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG; then
    mkdir -p "$data/redis"
    log "starting redis-server on 127.0.0.1:$redis_port"
    redis-server --bind 127.0.0.1 --port "$redis_port" --daemonize yes \
      --dir "$data/redis" --pidfile "$data/redis/redis.pid" --logfile "$data/redis/redis.log" \
      --appendonly yes --appendfsync everysec --maxmemory-policy noeviction --save "" >&2 9>&-
    wait_for 15 bash -c "redis-cli -p $redis_port ping 2>/dev/null | grep -q PONG" ||
      { log "redis-server did not answer; see $data/redis/redis.log"; return 1; }
  fi
  echo "REDIS_URL=redis://127.0.0.1:$redis_port"
}

mongo_up() {
  if [ -n "${MONGODB_URI:-}" ]; then echo "MONGODB_URI=$MONGODB_URI"; return 0; fi
  if ! port_open "$mongo_port"; then
    install_ferretdb
    local bin; bin=$(ferret_bin)
    mkdir -p "$data/ferretdb"
    log "starting FerretDB ($bin) on 127.0.0.1:$mongo_port"
    setsid nohup "$bin" --handler=sqlite --sqlite-url="file:$data/ferretdb/" --state-dir="$data/ferretdb" \
      --listen-addr="127.0.0.1:$mongo_port" --debug-addr=- --telemetry=disable --log-level=warn \
      >"$data/ferretdb/ferretdb.log" 2>&1 </dev/null 9>&- &
    echo $! >"$data/ferretdb/ferretdb.pid"
    wait_for 30 port_open "$mongo_port" ||
      { log "FerretDB did not answer; see $data/ferretdb/ferretdb.log"; return 1; }
  fi
  echo "MONGODB_URI=mongodb://127.0.0.1:$mongo_port/leadflow"
}

down() {
  if [ -f "$data/redis/redis.pid" ]; then
    redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
    rm -f "$data/redis/redis.pid"
    log "redis-server stopped"
  fi
  if [ -f "$data/ferretdb/ferretdb.pid" ]; then
    kill "$(cat "$data/ferretdb/ferretdb.pid")" 2>/dev/null || true
    wait_for 10 bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$mongo_port) 2>/dev/null" || true
    rm -f "$data/ferretdb/ferretdb.pid"
    log "FerretDB stopped"
  fi
}

mkdir -p "$data"
exec 9>"$data/services.lock"
flock 9

case "$cmd" in
  up) redis_up; mongo_up ;;
  down) down ;;
  install) install_redis; install_ferretdb; ferret_bin ;;
  status)
    redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && echo "redis: up ($redis_port)" || echo "redis: down"
    port_open "$mongo_port" && echo "ferretdb: up ($mongo_port)" || echo "ferretdb: down" ;;
  ferretdb-path) install_ferretdb; ferret_bin ;;
  *) echo "usage: $0 up|down|status|install|ferretdb-path" >&2; exit 2 ;;
esac
