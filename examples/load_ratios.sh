#!/usr/bin/env bash
# Load test with wrk, reported as ratios against GET /nex/datastore/version (a tiny
# answer with no token and no database) measured in the same run. Run by hand:
#   cargo build --release && examples/load_ratios.sh   [DURATION=8s CONNECTIONS=64]
# Needs wrk (Debian: apt-get install wrk). Starts its own nexds on 127.0.0.1:18480.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${NEXDS_BIN:-target/release/nexds}
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
duration=${DURATION:-8s}
connections=${CONNECTIONS:-64}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

NEXDS_LISTEN=127.0.0.1:18480 NEXDS_DATA_DIR="$work/data" RUST_LOG=warn \
  NEXDS_DURABILITY=${NEXDS_DURABILITY:-full} "$bin" serve &
pid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:18480/nex/datastore/version >/dev/null && break; sleep 0.1; done
token=$(cat "$work/data/title-token")
base=http://127.0.0.1:18480/nex/datastore/v2
auth="Authorization: Bearer $token"

# 200 public objects of type 7 with a rating slot, to read, search and rate.
for i in $(seq 200); do
  curl -sf -H "$auth" -X POST "$base/data/prepare" --data-binary \
    "<prepare><size>0</size><type>7</type><flags><flag>not_use_storageserver</flag></flags><meta_binary>bWV0YQ==</meta_binary><access_permission><type>public</type></access_permission><tags><tag>dGFn</tag></tags><rating_init_params><param><slot>0</slot></param></rating_init_params></prepare>" >/dev/null
done

cat > "$work/prepare.lua" <<'LUA'
wrk.method = "POST"
wrk.body = "<prepare><size>0</size><flags><flag>not_use_storageserver</flag></flags><meta_binary>bWV0YQ==</meta_binary></prepare>"
LUA
cat > "$work/rate.lua" <<'LUA'
wrk.method = "PUT"
wrk.body = "<rate><rating_value>1</rating_value></rate>"
LUA

run() { # name, url, [lua]
  local out
  out=$(wrk -t2 -c"$connections" -d"$duration" --latency -H "$auth" ${3:+-s "$3"} "$2")
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<< "$out")
  p50=$(awk '$1 == "50%" {print $2}' <<< "$out")
  p99=$(awk '$1 == "99%" {print $2}' <<< "$out")
  if grep -q "Non-2xx" <<< "$out"; then echo "$1: non-2xx answers" >&2; fi
  echo "$1 $rps $p50 $p99"
}

results=$(
  run version "http://127.0.0.1:18480/nex/datastore/version"
  run metainfo "$base/metainfo/1000100?response=tags,meta_binary,ratings"
  run search20 "$base/metainfo/search?type=7&sort=-updated_time&limit=20"
  run prepare "$base/data/prepare" "$work/prepare.lua"
  run rate "$base/metainfo/1000100/ratings/0" "$work/rate.lua"
)
baseline=$(awk '$1 == "version" {print $2}' <<< "$results")
printf '%-10s %12s %8s %10s %10s\n' endpoint req/s ratio p50 p99
awk -v b="$baseline" '{printf "%-10s %12.0f %8.3f %10s %10s\n", $1, $2, $2 / b, $3, $4}' <<< "$results"
echo "(durability ${NEXDS_DURABILITY:-full}, $connections connections, $duration each, wrk -t2 on the same machine)"
