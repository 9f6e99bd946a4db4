#!/usr/bin/env bash
# Local infrastructure for leadflow, all on loopback, data under .data/:
#   Redis (Debian's redis-server), PostgreSQL (Debian's, a private cluster in .data/postgres) and
#   FerretDB v1 on that PostgreSQL (the MongoDB-compatible server the app talks to).
#
#   scripts/services.sh up       start what is not running; print MONGODB_URI=..., REDIS_URL=...
#                                and EMBEDDED_POSTGRES_URL=... (the cluster behind FerretDB)
#   scripts/services.sh down     stop what this script started (for this data dir)
#   scripts/services.sh status   print what answers
#   scripts/services.sh install  install the binaries only (redis-server, postgresql, ferretdb)
#   scripts/services.sh migrate  copy every database of an older SQLite-backed .data/ferretdb into
#                                the PostgreSQL-backed server (also done by `up`, once, by itself)
#   (any command) --data-dir DIR  keep data in DIR instead of .data/
#
# Idempotent and safe to run concurrently (flock). When MONGODB_URI / REDIS_URL are set, those are
# used as they are and nothing is started for them.
#
# Settings (environment): LEADFLOW_DATA_DIR (default <repo>/.data), LEADFLOW_REDIS_PORT (6390),
# LEADFLOW_MONGO_PORT (27028), LEADFLOW_PG_PORT (5438), LEADFLOW_CACHE_DIR (~/.cache/leadflow),
# LEADFLOW_PG_BINDIR (PostgreSQL's bin directory; found by itself).
#
# The FerretDB port is not 27027, the SQLite-backed default of older checkouts, so a server left
# running by one of those is never taken for this one.
set -euo pipefail

cmd=${1:-up}
[ "${2:-}" = "--data-dir" ] && [ -n "${3:-}" ] && LEADFLOW_DATA_DIR=$3
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data=${LEADFLOW_DATA_DIR:-$root/.data}
redis_port=${LEADFLOW_REDIS_PORT:-6390}
mongo_port=${LEADFLOW_MONGO_PORT:-27028}
pg_port=${LEADFLOW_PG_PORT:-5438}
cache=${LEADFLOW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/leadflow}
# v1.24.1, the version DESIGN.md names, is served by the Go module proxy; v1.24.0 is the fallback
# for a proxy that does not serve it (an older mirror).
ferret_versions=${LEADFLOW_FERRETDB_VERSIONS:-"v1.24.1 v1.24.0"}
# Built with scripts/ferretdb.patch ("-lf6" names that build), five changes:
# - FerretDB v1 on PostgreSQL holds an update's query connection while taking a second one to
#   write, so as many concurrent updates as its pool has connections hang it for good; the patch
#   releases the first connection before writing.
# - {k: {$in: [...]}} is pushed down to PostgreSQL as (k = v1 OR k = v2 ...) instead of reading
#   the whole table; with leadflow's indexes (src/lib/ferretdb-indexes.ts) it is an index lookup.
# - {_id: {$in: [...]}} is pushed down as `_id IN (...)`, served by the unique `_id` index (an OR
#   of hundreds of conditions is planned as a sequential scan): 500 ids from 20,000 documents in
#   ~0.16 s instead of ~2 s.
# - An update (and findAndModify) writes the document back only if it is still as it was read
#   (`... AND _jsonb = <as read>`), and otherwise reads it again, checks the filter again and
#   re-applies the update: concurrent updates of one document are no longer lost (50 racing $inc
#   give 50) and a conditional update has one winner, as on MongoDB. Leadflow's guarantees still
#   rest on `_id`-keyed inserts (they hold on stock FerretDB too); this removes field-level lost
#   updates such as a PATCH racing a worker's write to the same lead.
# - The metadata registry checked rows.Err() before reading its list of databases, so a connection
#   lost mid-read cached a partial list: every database it missed read as empty and refused each
#   write (SQLSTATE 42P07) until a restart. The error is now checked after the rows, and the read
#   retried on the next request.
ferret_build=lf6
pgdir=$data/postgres
pg_url="postgres://leadflow@127.0.0.1:$pg_port/leadflow"
# FerretDB's own pool (its default is 50); max_connections below leaves room for other clients
ferret_pg_url="$pg_url?pool_max_conns=100"

log() { printf '[services] %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # wait_for <seconds> <command...>
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

is_root() { [ "$(id -u)" = 0 ]; }

install_redis() {
  command -v redis-server >/dev/null && return 0
  log "installing redis-server from Debian"
  local sudo=""; is_root || sudo=sudo
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >&2
}

# --- PostgreSQL -------------------------------------------------------------------------------

pg_bindir() {
  local d
  for d in "${LEADFLOW_PG_BINDIR:-}" "$(pg_config --bindir 2>/dev/null || true)" \
    $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r) \
    "$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")"; do
    [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] && { echo "$d"; return 0; }
  done
  return 1
}

install_postgres() {
  pg_bindir >/dev/null && return 0
  if ! is_root; then
    log "PostgreSQL is needed (the database behind FerretDB) and is not installed; install it once with:"
    log "  sudo apt-get install -y postgresql"
    log "(or point LEADFLOW_PG_BINDIR at a PostgreSQL bin directory), then run this again"
    return 1
  fi
  log "installing PostgreSQL from Debian (first run only)"
  # leadflow runs a private cluster of its own; Debian's default cluster on :5432 is not wanted
  mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/leadflow.conf
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  pg_bindir >/dev/null || { log "PostgreSQL installed but its bin directory was not found"; return 1; }
}

# PostgreSQL refuses to run as root: as root the cluster belongs to (and runs as) `postgres`.
as_pg() {
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_init() {
  local bin=$1
  [ -f "$pgdir/data/PG_VERSION" ] && return 0
  log "creating a private PostgreSQL cluster in $pgdir (first run only)"
  rm -rf "$pgdir/data"
  mkdir -p "$pgdir/run"
  if is_root; then
    id postgres >/dev/null 2>&1 || { log "the 'postgres' user is missing (install Debian's postgresql)"; return 1; }
    chown -R postgres: "$pgdir"
    as_pg test -w "$pgdir" || {
      log "user 'postgres' cannot reach $pgdir (a parent directory is not searchable by others);"
      log "choose a data dir it can reach (--data-dir DIR / LEADFLOW_DATA_DIR) or: chmod o+x on the parents"
      return 1
    }
  fi
  chmod 700 "$pgdir/run"
  # loopback only, and trust like the FerretDB port in front of it (which has no authentication)
  as_pg "$bin/initdb" -D "$pgdir/data" -U leadflow --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
    --no-instructions >"$pgdir/initdb.log" 2>&1 ||
    { log "initdb failed; see $pgdir/initdb.log"; return 1; }
  echo "# leadflow: settings are given on the command line by scripts/services.sh" >>"$pgdir/data/postgresql.conf"
}

pg_up() {
  local bin; bin=$(pg_bindir)
  port_open "$pg_port" && return 0
  pg_init "$bin"
  log "starting PostgreSQL ($bin) on 127.0.0.1:$pg_port"
  # loopback only; errors are logged tersely and without their statements (which hold lead data)
  local opts="-p $pg_port -c listen_addresses=127.0.0.1 -c unix_socket_directories='$pgdir/run'"
  opts+=" -c unix_socket_permissions=0700 -c max_connections=300"
  opts+=" -c log_min_error_statement=panic -c log_error_verbosity=terse"
  # FerretDB's statements name the field as a parameter (_jsonb->$1 @> $2): only a plan made with
  # the values can use the read indexes (src/lib/ferretdb-indexes.ts), and a cached generic plan,
  # chosen while a table is small, would stay a sequential scan as it grows
  opts+=" -c plan_cache_mode=force_custom_plan"
  if ! as_pg "$bin/pg_ctl" -D "$pgdir/data" -l "$pgdir/postgres.log" -o "$opts" -w -t 60 start >/dev/null 9>&-; then
    # a concurrent `up` for another data dir may have started one on this port meanwhile
    port_open "$pg_port" || { log "PostgreSQL did not start; see $pgdir/postgres.log"; return 1; }
  fi
  if [ ! -f "$pgdir/created" ]; then
    # over loopback: the server on this port may be another data dir's, started concurrently
    as_pg "$bin/createdb" -h 127.0.0.1 -p "$pg_port" -U leadflow leadflow 2>/dev/null ||
      as_pg "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U leadflow -d leadflow -Atc 'select 1' >/dev/null ||
      { log "could not create the leadflow database; see $pgdir/postgres.log"; return 1; }
    touch "$pgdir/created"
  fi
}

pg_down() {
  local bin
  [ -f "$pgdir/data/postmaster.pid" ] || return 0
  bin=$(pg_bindir) || return 0
  as_pg "$bin/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null 2>&1 || true
  log "PostgreSQL stopped"
}

# --- FerretDB ---------------------------------------------------------------------------------

ferret_bin() {
  local v
  for v in $ferret_versions; do
    [ -x "$cache/bin/ferretdb-$v-$ferret_build" ] && { echo "$cache/bin/ferretdb-$v-$ferret_build"; return 0; }
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
    # some proxies refuse; downloading the exact version and building it avoids that read.
    if dir=$(go mod download -json "github.com/FerretDB/FerretDB@$v" 2>/dev/null | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p') &&
      [ -n "$dir" ] &&
      rm -rf "$cache/src/ferretdb-$v" && mkdir -p "$cache/src" && cp -r "$dir" "$cache/src/ferretdb-$v" &&
      chmod -R u+w "$cache/src/ferretdb-$v" &&
      patch -s -p1 -d "$cache/src/ferretdb-$v" <"$root/scripts/ferretdb.patch" >&2 &&
      # a release build reads its version from this file (`bin/task gen-version` upstream)
      echo "$v" >"$cache/src/ferretdb-$v/build/version/version.txt" &&
      (cd "$cache/src/ferretdb-$v" && GOFLAGS=-mod=mod go build -trimpath -o "$cache/bin/ferretdb-$v-$ferret_build.tmp" ./cmd/ferretdb) >&2; then
      mv "$cache/bin/ferretdb-$v-$ferret_build.tmp" "$cache/bin/ferretdb-$v-$ferret_build"
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

# start_ferretdb <port> <dir> <handler flags...>: FerretDB in the background, pid in <dir>/ferretdb.pid
start_ferretdb() {
  local port=$1 dir=$2 bin; shift 2
  bin=$(ferret_bin)
  mkdir -p "$dir"
  setsid nohup "$bin" "$@" --state-dir="$dir" --listen-addr="127.0.0.1:$port" --debug-addr=- \
    --telemetry=disable --log-level=warn >"$dir/ferretdb.log" 2>&1 </dev/null 9>&- &
  echo $! >"$dir/ferretdb.pid"
  wait_for 30 port_open "$port" || { log "FerretDB did not answer; see $dir/ferretdb.log"; return 1; }
}

mongo_up() {
  if [ -n "${MONGODB_URI:-}" ]; then
    echo "MONGODB_URI=$MONGODB_URI"
    [ -z "${EMBEDDED_POSTGRES_URL:-}" ] || echo "EMBEDDED_POSTGRES_URL=$EMBEDDED_POSTGRES_URL"
    return 0
  fi
  install_postgres
  install_ferretdb
  pg_up
  if ! port_open "$mongo_port"; then
    log "starting FerretDB ($(ferret_bin)) on PostgreSQL, 127.0.0.1:$mongo_port"
    start_ferretdb "$mongo_port" "$data/ferretdb-pg" --handler=postgresql --postgresql-url="$ferret_pg_url"
  fi
  migrate_if_needed
  echo "MONGODB_URI=mongodb://127.0.0.1:$mongo_port/leadflow"
  echo "EMBEDDED_POSTGRES_URL=$pg_url"
}

# --- Migration from the SQLite-backed default of older checkouts --------------------------------

sqlite_files() { compgen -G "$data/ferretdb/*.sqlite" >/dev/null; }

migrate_if_needed() {
  sqlite_files || return 0
  [ -f "$data/ferretdb/MIGRATED" ] && return 0
  log "found data of the older SQLite-backed default in $data/ferretdb: copying it into PostgreSQL"
  migrate || {
    log "the copy failed; your SQLite data is untouched in $data/ferretdb. Retry with:"
    log "  bash scripts/services.sh migrate${LEADFLOW_DATA_DIR:+ --data-dir $data}"
    return 1
  }
}

migrate() {
  sqlite_files || { log "nothing to migrate: no $data/ferretdb/*.sqlite"; return 0; }
  local port=27100 tmp
  while port_open "$port"; do port=$((port + 1)); done
  [ -d "$root/node_modules/mongodb" ] || { log "run 'npm install' first (the copy uses the mongodb driver)"; return 1; }
  tmp=$(mktemp -d)
  # a second, read-only use of the SQLite files, on a port of its own, for the copy only
  start_ferretdb "$port" "$tmp" --handler=sqlite --sqlite-url="file:$data/ferretdb/" || { rm -rf "$tmp"; return 1; }
  local rc=0
  node "$root/scripts/migrate-sqlite.mjs" "mongodb://127.0.0.1:$port/" "mongodb://127.0.0.1:$mongo_port/" >&2 || rc=$?
  kill "$(cat "$tmp/ferretdb.pid")" 2>/dev/null || true
  rm -rf "$tmp"
  ((rc == 0)) || return $rc
  date -u +%FT%TZ >"$data/ferretdb/MIGRATED"
  log "migrated; the SQLite files stay in $data/ferretdb as a backup (delete them when satisfied)"
}

down() {
  if [ -f "$data/redis/redis.pid" ]; then
    redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
    rm -f "$data/redis/redis.pid"
    log "redis-server stopped"
  fi
  local dir
  for dir in "$data/ferretdb-pg" "$data/ferretdb"; do
    [ -f "$dir/ferretdb.pid" ] || continue
    kill "$(cat "$dir/ferretdb.pid")" 2>/dev/null || true
    rm -f "$dir/ferretdb.pid"
    log "FerretDB stopped ($dir)"
  done
  wait_for 10 bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$mongo_port) 2>/dev/null" || true
  pg_down
}

mkdir -p "$data"
exec 9>"$data/services.lock"
flock 9

case "$cmd" in
  up) redis_up; mongo_up ;;
  down) down ;;
  install) install_redis; install_postgres; install_ferretdb; ferret_bin ;;
  migrate) install_postgres; install_ferretdb; pg_up
    port_open "$mongo_port" ||
      start_ferretdb "$mongo_port" "$data/ferretdb-pg" --handler=postgresql --postgresql-url="$ferret_pg_url"
    rm -f "$data/ferretdb/MIGRATED"; migrate ;;
  status)
    redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && echo "redis: up ($redis_port)" || echo "redis: down"
    port_open "$pg_port" && echo "postgresql: up ($pg_port)" || echo "postgresql: down"
    port_open "$mongo_port" && echo "ferretdb: up ($mongo_port)" || echo "ferretdb: down" ;;
  ferretdb-path) install_ferretdb; ferret_bin ;;
  pg-bindir) pg_bindir ;;
  *) echo "usage: $0 up|down|status|install|migrate|ferretdb-path|pg-bindir" >&2; exit 2 ;;
esac
