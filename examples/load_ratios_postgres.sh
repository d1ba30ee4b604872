#!/usr/bin/env bash
# load_ratios.sh's load on PostgreSQL: the same endpoints, ratios against GET
# /nex/datastore/version in the same run, first with one nexds node, then with two
# nodes on one database (each wrk thread set on its own node, half the connections
# each, their requests added up). Reports the nexds processes' CPU per request and
# PostgreSQL's (utime+stime from /proc over the run ÷ requests). Run by hand:
#   cargo build --release && examples/load_ratios_postgres.sh   [DURATION=8s CONNECTIONS=64]
# Starts its own PostgreSQL (Debian's, /usr/lib/postgresql/<15+>/bin; as the postgres
# user when run as root) in a temp dir on 127.0.0.1:18432 with its default durability
# (fsync on, synchronous_commit=on), and nexds on 127.0.0.1:18480 and :18481. Needs wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${NEXDS_BIN:-target/release/nexds}")
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
duration=${DURATION:-8s}
connections=${CONNECTIONS:-64}
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
[ -x "$pgbin/postgres" ] || { echo "no PostgreSQL under /usr/lib/postgresql" >&2; exit 1; }
work=$(mktemp -d)
chmod 755 "$work"
pids=()
pgpid=
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # The postmaster itself ($pgpid is the shell that started it), then its files.
  if [ -f "$work/pg/data/postmaster.pid" ]; then
    pm=$(head -1 "$work/pg/data/postmaster.pid")
    kill -INT "$pm" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pm" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

as_pg() { if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --clear-groups "$@"; else "$@"; fi; }
mkdir "$work/pg"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$work/pg"
as_pg "$pgbin/initdb" -D "$work/pg/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
as_pg "$pgbin/postgres" -D "$work/pg/data" -p 18432 -k "$work/pg" \
  -c listen_addresses=127.0.0.1 -c max_connections=200 >"$work/pg/log" 2>&1 &
pgpid=$!
for _ in $(seq 100); do "$pgbin/pg_isready" -q -h 127.0.0.1 -p 18432 && break; sleep 0.1; done
psql() { "$pgbin/psql" -q -h 127.0.0.1 -p 18432 -U postgres "$@"; }

token=load-ratios-title-token
hz=$(getconf CLK_TCK)
# CPU ticks so far of the given processes (utime + stime, after the command name).
ticks() { for p in "$@"; do sed 's/.*) //' "/proc/$p/stat" 2>/dev/null; done | awk '{t += $12 + $13} END {print t + 0}'; }
# The postmaster (its first line of postmaster.pid) and its backends.
pg_pids() { local pm; pm=$(head -1 "$work/pg/data/postmaster.pid"); echo "$pm" $(pgrep -P "$pm" || true); }

start_nodes() { # count, database
  pids=()
  for n in $(seq 0 $(($1 - 1))); do
    mkdir -p "$work/node$n"
    NEXDS_LISTEN=127.0.0.1:$((18480 + n)) NEXDS_DATA_DIR="$work/node$n" RUST_LOG=warn \
      NEXDS_DATABASE_URL="postgres://postgres@127.0.0.1:18432/$2" NEXDS_ALLOW_LOCAL_STORAGE=1 \
      NEXDS_BOOTSTRAP_TOKEN=$token "$bin" serve &
    pids+=($!)
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$((18480 + n))/nex/datastore/version" >/dev/null && break; sleep 0.1; done
  done
}

run() { # name, path, [lua]: wrk on every node at once
  local nodes=${#pids[@]} before pg_before outs=() rps=0 requests=0 p99=
  before=$(ticks "${pids[@]}"); pg_before=$(ticks $(pg_pids))
  for n in $(seq 0 $((nodes - 1))); do
    wrk -t$((2 / nodes)) -c$((connections / nodes)) -d"$duration" --latency \
      -H "Authorization: Bearer $token" ${3:+-s "$3"} "http://127.0.0.1:$((18480 + n))$2" \
      >"$work/wrk$n" &
    outs+=($!)
  done
  wait "${outs[@]}"
  local after pg_after
  after=$(ticks "${pids[@]}"); pg_after=$(ticks $(pg_pids))
  for n in $(seq 0 $((nodes - 1))); do
    if grep -q "Non-2xx\|Socket errors" "$work/wrk$n"; then
      echo "$1 on node $n: $(grep "Non-2xx\|Socket errors" "$work/wrk$n")" >&2
    fi
    rps=$(awk -v s="$rps" '/Requests\/sec/ {print s + $2}' "$work/wrk$n")
    requests=$(awk -v s="$requests" '/requests in/ {print s + $1}' "$work/wrk$n")
    p99="$p99$(awk '$1 == "99%" {print $2}' "$work/wrk$n") "
  done
  awk -v name="$1" -v rps="$rps" -v n="$requests" -v p99="$p99" -v hz="$hz" \
    -v t=$((after - before)) -v pg=$((pg_after - pg_before)) \
    'BEGIN {printf "%s %s %s %.1f %.1f\n", name, rps, p99, t / hz * 1e6 / n, pg / hz * 1e6 / n}'
}

measure() { # nodes
  local db=load$1
  psql -c "CREATE DATABASE $db"
  start_nodes "$1" "$db"
  local base=http://127.0.0.1:18480/nex/datastore/v2 target=
  for i in $(seq 200); do
    id=$(curl -sf -H "Authorization: Bearer $token" -X POST "$base/data/prepare" --data-binary \
      "<prepare><size>0</size><type>7</type><flags><flag>not_use_storageserver</flag></flags><meta_binary>bWV0YQ==</meta_binary><access_permission><type>public</type></access_permission><tags><tag>dGFn</tag></tags><rating_init_params><param><slot>0</slot></param></rating_init_params></prepare>" \
      | sed -n 's/.*<data_id>\([0-9]*\)<.*/\1/p')
    [ "$i" = 100 ] && target=$id
  done
  local v2=/nex/datastore/v2 results baseline
  local load_before load_after
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  results=$(
    run version /nex/datastore/version
    run metainfo "$v2/metainfo/$target?response=tags,meta_binary,ratings"
    run search20 "$v2/metainfo/search?type=7&sort=-updated_time&limit=20"
    run prepare "$v2/data/prepare" "$work/prepare.lua"
    run rate "$v2/metainfo/$target/ratings/0" "$work/rate.lua"
  )
  load_after=$(cut -d' ' -f1-3 /proc/loadavg)
  baseline=$(awk '$1 == "version" {print $2}' <<< "$results")
  echo
  echo "PostgreSQL, $1 node(s): $connections connections in all, $duration each, wrk on the same machine;"
  echo "load average before $load_before, after $load_after; $(nproc) cores"
  echo "| endpoint | req/s | ratio | p99 (per node) | nexds CPU µs/request | PostgreSQL CPU µs/request |"
  echo "|---|---|---|---|---|---|"
  awk -v b="$baseline" '{p99 = ""; for (i = 3; i <= NF - 2; i++) p99 = p99 $i " ";
    printf "| %s | %.0f | %.3f | %s| %s | %s |\n", $1, $2, $2 / b, p99, $(NF - 1), $NF}' <<< "$results"
  for p in "${pids[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
  pids=()
}

cat > "$work/prepare.lua" <<'LUA'
wrk.method = "POST"
wrk.body = "<prepare><size>0</size><flags><flag>not_use_storageserver</flag></flags><meta_binary>bWV0YQ==</meta_binary></prepare>"
LUA
cat > "$work/rate.lua" <<'LUA'
wrk.method = "PUT"
wrk.body = "<rate><rating_value>1</rating_value></rate>"
LUA

measure 1
measure 2
