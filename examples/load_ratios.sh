#!/usr/bin/env bash
# Load test with wrk, reported as ratios against GET /nex/datastore/version (a tiny
# answer with no token and no database) measured in the same run, with the server's
# CPU time per request (utime+stime from /proc/PID/stat over the run ÷ requests) and
# its peak RSS (VmHWM). Run by hand:
#   cargo build --release && examples/load_ratios.sh   [DURATION=8s CONNECTIONS=64 ROUNDS=3]
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

# wrk's latency ("611.00us", "1.23ms", "2.00s") in milliseconds.
ms() { awk '{v = $1 + 0; if ($1 ~ /us$/) v /= 1000; else if ($1 ~ /[0-9]s$/ && $1 !~ /ms$/) v *= 1000; printf "%.2f", v}' <<< "$1"; }

run() { # round, name, url, [lua]
  local out before after rps p50 p99 requests
  before=$(ticks)
  out=$(wrk -t2 -c"$connections" -d"$duration" --latency -H "$auth" ${4:+-s "$4"} "$3")
  after=$(ticks)
  rps=$(awk '/Requests\/sec/ {print $2}' <<< "$out")
  requests=$(awk '/requests in/ {print $1}' <<< "$out")
  p50=$(ms "$(awk '$1 == "50%" {print $2}' <<< "$out")")
  p99=$(ms "$(awk '$1 == "99%" {print $2}' <<< "$out")")
  if grep -q "Non-2xx" <<< "$out"; then echo "$2: non-2xx answers" >&2; fi
  cpu=$(awk -v t=$((after - before)) -v n="$requests" -v hz="$hz" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
  echo "$1 $2 $rps $p50 $p99 $cpu"
}

# ROUNDS rounds of the reads, then of the writes (whose objects would change what
# the search reads), each round's ratios against its own baseline run: the baseline
# alone varies by a third between runs on a shared 2-core machine.
rounds=${ROUNDS:-3}
version="http://127.0.0.1:18480/nex/datastore/version"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
results=$(
  for round in $(seq "$rounds"); do
    run "r$round" version "$version"
    run "r$round" metainfo "$base/metainfo/$target?response=tags,meta_binary,ratings"
    run "r$round" search20 "$base/metainfo/search?type=7&sort=-updated_time&limit=20"
  done
  for round in $(seq "$rounds"); do
    run "w$round" version "$version"
    run "w$round" prepare "$base/data/prepare" "$work/prepare.lua"
    run "w$round" rate "$base/metainfo/$target/ratings/0" "$work/rate.lua"
  done
)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
# Per endpoint, the median over rounds of req/s, ratio, p50, p99 and CPU, and the
# lowest and highest ratio.
summary=$(awk '
  function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j] + 0 < a[j - 1] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  $2 == "version" { base[$1] = $3 }
  {
    if (!($2 in seen)) { seen[$2] = 1; order[++names] = $2 }
    r = $3 / base[$1]
    rps[$2] = rps[$2] " " $3; ratio[$2] = ratio[$2] " " r
    p50[$2] = p50[$2] " " $4; p99[$2] = p99[$2] " " $5; cpu[$2] = cpu[$2] " " $6
    if (!($2 in lo) || r < lo[$2]) lo[$2] = r
    if (!($2 in hi) || r > hi[$2]) hi[$2] = r
  }
  END {
    for (i = 1; i <= names; i++) {
      e = order[i]
      printf "%s %.0f %.3f %.3f %.3f %.2f %.2f %.1f\n", e, median(rps[e]), median(ratio[e]), lo[e], hi[e], median(p50[e]), median(p99[e]), median(cpu[e])
    }
  }' <<< "$results")
printf '%-10s %10s %8s %13s %9s %9s %11s\n' endpoint req/s ratio '(min..max)' 'p50 ms' 'p99 ms' 'CPU us/req'
awk '{printf "%-10s %10s %8s %13s %9s %9s %11s\n", $1, $2, $3, $4 ".." $5, $6, $7, $8}' <<< "$summary"
echo
echo "| endpoint | req/s | ratio (min–max) | p99 ms | server CPU µs/request |"
echo "|---|---|---|---|---|"
awk '{printf "| %s | %s | %s (%s–%s) | %s | %s |\n", $1, $2, $3, $4, $5, $7, $8}' <<< "$summary"
echo
peak=$(awk '$1 == "VmHWM:" {printf "%d", $2 / 1024}' "/proc/$pid/status")
echo "(medians of $rounds rounds; durability ${NEXDS_DURABILITY:-full}, $connections connections, $duration each, wrk -t2 on the same"
echo " machine; server peak RSS ${peak} MiB; database $(du -m "$work/data/nexds.db" | cut -f1) MiB;"
echo " load average before $load_before, after $load_after; $(nproc) cores)"
