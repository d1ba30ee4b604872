#!/usr/bin/env bash
# Load test with wrk, reported as ratios against GET /nex/datastore/version (a tiny
# answer with no token and no database) measured in the same run, with the server's
# CPU time per request (utime+stime from /proc/PID/stat over the run ÷ requests) and
# its peak RSS (VmHWM). Run by hand:
#   cargo build --release && examples/load_ratios.sh   [DURATION=8s CONNECTIONS=64]
# SEED_DIR=DIR starts from a copy of DIR/nexds.db (e.g. a search_bench --data-dir with
# 1,000,000 objects) instead of an empty database; NEXDS_BIN picks another binary.
# Needs wrk (Debian: apt-get install wrk). Starts its own nexds on 127.0.0.1:18480.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${NEXDS_BIN:-target/release/nexds}
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
duration=${DURATION:-8s}
connections=${CONNECTIONS:-64}
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
export NEXDS_DATA_DIR="$work/data"
mkdir -p "$work/data"
token=
if [ -n "${SEED_DIR:-}" ]; then
  cp "$SEED_DIR/nexds.db" "$work/data/nexds.db"
  token=$("$bin" token create --namespace default 2>/dev/null)
  # What a running server's janitor would have done already (the seeded objects that
  # have expired), so that the runs measure the requests, not the catch-up.
  started=$(date +%s)
  RUST_LOG=warn "$bin" purge >/dev/null
  echo "seeded database: purged in $(( $(date +%s) - started )) s" >&2
fi

NEXDS_LISTEN=127.0.0.1:18480 RUST_LOG=warn \
  NEXDS_DURABILITY=${NEXDS_DURABILITY:-full} "$bin" serve &
pid=$!
for _ in $(seq 600); do curl -sf http://127.0.0.1:18480/nex/datastore/version >/dev/null && break; sleep 0.1; done
[ -n "$token" ] || token=$(cat "$work/data/title-token")
base=http://127.0.0.1:18480/nex/datastore/v2
auth="Authorization: Bearer $token"

# 200 public objects of type 7 with a rating slot, to read, search and rate; the
# 100th is read and rated.
target=
for i in $(seq 200); do
  id=$(curl -sf -H "$auth" -X POST "$base/data/prepare" --data-binary \
    "<prepare><size>0</size><type>7</type><flags><flag>not_use_storageserver</flag></flags><meta_binary>bWV0YQ==</meta_binary><access_permission><type>public</type></access_permission><tags><tag>dGFn</tag></tags><rating_init_params><param><slot>0</slot></param></rating_init_params></prepare>" \
    | sed -n 's/.*<data_id>\([0-9]*\)<.*/\1/p')
  [ "$i" = 100 ] && target=$id
done

cat > "$work/prepare.lua" <<'LUA'
wrk.method = "POST"
wrk.body = "<prepare><size>0</size><flags><flag>not_use_storageserver</flag></flags><meta_binary>bWV0YQ==</meta_binary></prepare>"
LUA
cat > "$work/rate.lua" <<'LUA'
wrk.method = "PUT"
wrk.body = "<rate><rating_value>1</rating_value></rate>"
LUA

# The server's CPU time so far, in clock ticks (utime + stime, after the command name).
ticks() { sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}'; }
hz=$(getconf CLK_TCK)

run() { # name, url, [lua]
  local out before after rps p50 p99 requests
  before=$(ticks)
  out=$(wrk -t2 -c"$connections" -d"$duration" --latency -H "$auth" ${3:+-s "$3"} "$2")
  after=$(ticks)
  rps=$(awk '/Requests\/sec/ {print $2}' <<< "$out")
  requests=$(awk '/requests in/ {print $1}' <<< "$out")
  p50=$(awk '$1 == "50%" {print $2}' <<< "$out")
  p99=$(awk '$1 == "99%" {print $2}' <<< "$out")
  if grep -q "Non-2xx" <<< "$out"; then echo "$1: non-2xx answers" >&2; fi
  cpu=$(awk -v t=$((after - before)) -v n="$requests" -v hz="$hz" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
  echo "$1 $rps $p50 $p99 $cpu"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
results=$(
  run version "http://127.0.0.1:18480/nex/datastore/version"
  run metainfo "$base/metainfo/$target?response=tags,meta_binary,ratings"
  run search20 "$base/metainfo/search?type=7&sort=-updated_time&limit=20"
  run prepare "$base/data/prepare" "$work/prepare.lua"
  run rate "$base/metainfo/$target/ratings/0" "$work/rate.lua"
)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
baseline=$(awk '$1 == "version" {print $2}' <<< "$results")
printf '%-10s %12s %8s %10s %10s %12s\n' endpoint req/s ratio p50 p99 'CPU us/req'
awk -v b="$baseline" '{printf "%-10s %12.0f %8.3f %10s %10s %12s\n", $1, $2, $2 / b, $3, $4, $5}' <<< "$results"
echo
echo "| endpoint | req/s | ratio | p99 | server CPU µs/request |"
echo "|---|---|---|---|---|"
awk -v b="$baseline" '{printf "| %s | %.0f | %.3f | %s | %s |\n", $1, $2, $2 / b, $4, $5}' <<< "$results"
echo
peak=$(awk '$1 == "VmHWM:" {printf "%d", $2 / 1024}' "/proc/$pid/status")
echo "(durability ${NEXDS_DURABILITY:-full}, $connections connections, $duration each, wrk -t2 on the same"
echo " machine; server peak RSS ${peak} MiB; database $(du -m "$work/data/nexds.db" | cut -f1) MiB;"
echo " load average before $load_before, after $load_after; $(nproc) cores)"
