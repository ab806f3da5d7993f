#!/usr/bin/env bash
# Issue 6: the same parley-bench scenarios against Parley, Prosody and ejabberd on this machine, in one
# run, with the message archive on (every server's default) and off; writes docs/benchmarks.md and PNG
# charts in docs/benchmarks/ (bench/report.py).
#
#   bench/compare.sh [--quick] [--archive on|off|both] [--servers "parley prosody ejabberd"]
#                    [--results DIR] [--docs DIR] [--no-build]
#
# PARLEYD, PARLEYCTL and PARLEY_BENCH name other binaries than the release build's (--no-build: use them
# or the existing release build as they are).
#
# It installs what is missing (Debian's prosody, ejabberd, gnuplot-nox), builds the release preset
# (parleyd, parleyctl, parley-bench), then for each archive setting and each server: starts the server
# privately on free loopback ports with its configuration and data in a temporary folder (Parley here;
# the peers with tests/interop/peer_servers.py: same domain, TLS optional, limits raised, no shaping),
# creates the accounts, runs the scenarios one after the other, stops it. Every parley-bench command is
# logged as run; its JSON line goes to RESULTS/<archive>/<server>/<step>.json and its per-second CSV
# next to it. Only one server runs at a time: on a 2-core machine the generator and one server already
# share the CPU. --quick runs small numbers (a minute or two per server) to check the plumbing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
quick=0
build=1
archives="on off"
servers="parley prosody ejabberd"
results="$root/build/bench-results/$(date -u +%Y%m%dT%H%M%SZ)"
docs="$root/docs"
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) quick=1; shift ;;
    --archive) [[ $2 == both ]] && archives="on off" || archives=$2; shift 2 ;;
    --servers) servers=$2; shift 2 ;;
    --results) results=$2; shift 2 ;;
    --docs) docs=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

say() { echo "compare.sh: $*" >&2; }
die() { say "$*"; exit 1; }

# --- what the run needs ---------------------------------------------------------------------------------

install_missing() {
  local missing=() p
  for p in prosody ejabberd gnuplot-nox; do
    [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) == "install ok installed" ]] || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return
  say "installing ${missing[*]}"
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "need root or sudo to install ${missing[*]} (or install them yourself)"
    sudo=sudo
  fi
  # Never let apt start the peers' system services (ports 5222, 5269, epmd): they run privately here.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

install_missing
if ((build)); then
  say "building the release preset (parleyd, parleyctl, parley-bench)"
  (cd "$root" && cmake --preset release >/dev/null && cmake --build --preset release -j "$(nproc)" \
    --target parleyd parleyctl parley-bench >&2) || die "the release build failed (see above)"
fi
release="$root/build/release"
parleyd=${PARLEYD:-$release/server/main/parleyd}
parleyctl=${PARLEYCTL:-$release/server/main/parleyctl}
bench=${PARLEY_BENCH:-$(find "$release/bench" -maxdepth 2 -type f -name parley-bench -perm -u+x 2>/dev/null | head -1)}
[[ -x $parleyd ]] || die "no parleyd at $parleyd (build the release preset, or set PARLEYD)"
[[ -n $bench && -x $bench ]] || die "no parley-bench under $release/bench (is the bench branch merged?), or set PARLEY_BENCH"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() {  # port pid seconds: polls until the port accepts, the process dies, or the time is up
  local port=$1 pid=$2 deadline=$((SECONDS + $3))
  until python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || return 1
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# --- the scenarios --------------------------------------------------------------------------------------

# Sized for the 20 000 open files of these machines: the generator and the server each hold one socket
# per session, so at most about 9 000 sessions in one run.
if ((quick)); then
  USERS=600; IDLE=500; IDLE_RATE=250; HOLD=5; DURATION=5; CONTACTS=10; CHAT_USERS=100; ROSTER_USERS=200
  RATES="500 1000 2000"; INFLIGHT=8; OFFLINE_USERS=50; OFFLINE_MESSAGES=20; LOGIN_USERS=100
else
  USERS=9000; IDLE=8000; IDLE_RATE=500; HOLD=30; DURATION=20; CONTACTS=20; CHAT_USERS=1000; ROSTER_USERS=2000
  RATES="500 1000 2000 5000 10000 20000 50000 100000"; INFLIGHT=16; OFFLINE_USERS=500
  OFFLINE_MESSAGES=100; LOGIN_USERS=1000
fi
PASSWORD=bench

commands_log=""  # every command run, in order, for docs/benchmarks.md

run_bench() {  # server-label step scenario [options...]: runs one scenario, keeps its JSON and CSV
  local label=$1 step=$2 scenario=$3; shift 3
  local dir="$results/$archive/$label"
  mkdir -p "$dir"
  local cmd=("$bench" "$scenario" --host 127.0.0.1 --port "$port" --domain localhost --password "$PASSWORD"
             --label "$label" --server-pid "$server_pid" --csv "$dir/$step.csv" "$@")
  echo "${cmd[*]/#$root\//}" >>"$results/commands.txt"
  say "$label/$archive: $step"
  # parley-bench exits 1 when something was lost, duplicated or refused, and still prints its JSON line,
  # which the report shows (with the error); no JSON line at all is a failed step.
  local json status=0
  json=$("${cmd[@]}" 2>"$dir/$step.log" | tail -1) || status=$?
  if [[ $json == \{* ]]; then
    echo "$json" >"$dir/$step.json"
    ((status == 0)) || say "$label/$archive: $step exited $status: $(tail -2 "$dir/$step.log" | tr '\n' ' ')"
  else
    say "$label/$archive: $step failed: $(tail -3 "$dir/$step.log" | tr '\n' ' ')"
    printf '{"scenario":"%s","label":"%s","step":"%s","failed":true}\n' "$scenario" "$label" "$step" \
      >"$dir/$step.json"
  fi
}

scenarios() {  # label mech: the standard set, in an order where each step leaves what the next needs
  local label=$1 mech=$2
  run_bench "$label" roster roster --users "$ROSTER_USERS" --contacts "$CONTACTS" --mech "$mech" --tls none
  run_bench "$label" idle idle --sessions "$IDLE" --rate "$IDLE_RATE" --hold "$HOLD" --mech "$mech" --tls none
  run_bench "$label" idle-tls idle --sessions "$IDLE" --rate "$IDLE_RATE" --hold "$HOLD" --mech "$mech" \
    --tls starttls
  # Logins open and close connections fast: spread them over source addresses (ephemeral ports).
  local spread=(--source-addresses 16)
  run_bench "$label" login-scram login --users "$LOGIN_USERS" --duration "$DURATION" --mech "$mech" --tls none \
    "${spread[@]}"
  run_bench "$label" login-scram-tls login --users "$LOGIN_USERS" --duration "$DURATION" --mech "$mech" \
    --tls starttls "${spread[@]}"
  run_bench "$label" login-plain login --users "$LOGIN_USERS" --duration "$DURATION" --mech PLAIN --tls none \
    "${spread[@]}"
  # Throughput and latency against load: the offered rate goes up until the server delivers less than
  # 80% of it (saturated). Higher rates would only pile up a backlog that takes minutes to drain (Prosody
  # archives about 400 messages/s on these machines).
  local rate delivered
  for rate in $RATES; do
    run_bench "$label" "chat-rate-$rate" chat --users "$CHAT_USERS" --duration "$DURATION" --rate "$rate" \
      --mech "$mech" --tls none
    delivered=$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1])).get("delivered_per_s", 0)))' \
      "$results/$archive/$label/chat-rate-$rate.json" 2>/dev/null || echo 0)
    if ((delivered * 10 < rate * 8)); then
      say "$label/$archive: saturated at $rate/s offered ($delivered/s delivered): no higher rates"
      break
    fi
  done
  run_bench "$label" chat-inflight chat --users "$CHAT_USERS" --duration "$DURATION" --inflight "$INFLIGHT" \
    --mech "$mech" --tls none
  run_bench "$label" chat-pipeline chat --users "$CHAT_USERS" --duration "$DURATION" --inflight "$INFLIGHT" \
    --pipeline --mech "$mech" --tls none
  run_bench "$label" presence presence --users "$ROSTER_USERS" --contacts "$CONTACTS" --duration "$DURATION" \
    --mech "$mech" --tls none
  run_bench "$label" offline offline --users "$OFFLINE_USERS" --messages "$OFFLINE_MESSAGES" --mech "$mech" \
    --tls none
}

# --- the servers ----------------------------------------------------------------------------------------

run_parley() {
  local dir; dir=$(mktemp -d -t parley-bench-XXXXXX)
  port=$(free_port)
  local direct; direct=$(free_port)
  local modules="\"disco\", \"ping\", \"version\", \"time\", \"register\", \"roster\", \"offline\", \"blocking\",
  \"vcard\", \"private\", \"last\", \"carbons\", \"pep\", \"csi\", \"stream_management\""
  [[ $archive == on ]] && modules="$modules, \"mam\""
  cat >"$dir/parley.toml" <<EOF
data_dir = "$dir/var"
log_level = "warn"
allow_plain_without_tls = true

[[host]]
domain = "localhost"
registration = "open"

[[listener]]
address = "127.0.0.1"
port = $port
tls = "starttls"
require_tls = false

[[listener]]
address = "127.0.0.1"
port = $direct
tls = "direct"

[storage]
backend = "sqlite"

# Raised so that the benchmark is not throttled (the peers' shaping and rate limits are off too).
[limits]
max_stanza_bytes = "10MiB"
max_resources_per_account = 10000
outbound_queue_stanzas = 1000000
outbound_queue_bytes = "1GiB"
max_connections_per_ip = 0
max_preauth_connections_per_ip = 0
presence_per_second = 0
registration_interval = 0  # the generator may register from any 127.0.0.0/8 address

[timeouts]
idle = "1h"

[modules]
enabled = [$modules]

[modules.offline]
max_messages = 0  # no per-user cap, as the peers are set
EOF
  "$parleyd" --config "$dir/parley.toml" 2>"$dir/parleyd.log" &
  server_pid=$!
  wait_port "$port" "$server_pid" 60 || { tail -20 "$dir/parleyd.log" >&2; die "parleyd did not start"; }
  echo "parleyd --config $dir/parley.toml   # archive $archive" >>"$results/commands.txt"
  # Accounts: parleyctl's bulk path (SCRAM keys derived once for all with --same-salt).
  echo "PARLEY_PASSWORD=$PASSWORD parleyctl --config parley.toml adduser-range bench 1 $USERS localhost --same-salt" \
    >>"$results/commands.txt"
  PARLEY_PASSWORD=$PASSWORD "$parleyctl" --config "$dir/parley.toml" adduser-range bench 1 "$USERS" localhost \
    --same-salt >&2 || die "parleyctl adduser-range failed"
  scenarios parley SCRAM-SHA-256
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
  rm -rf "$dir"
}

run_peer() {  # prosody|ejabberd mech
  local name=$1 mech=$2 fifo; fifo=$(mktemp -u -t peer-XXXXXX)
  mkfifo "$fifo"
  # peer_servers.py starts the peer, creates bench1..benchN, prints "ready PORT DIRECT PID VERSION", and
  # stops the peer when its standard input closes.
  /usr/bin/python3 "$root/tests/interop/peer_servers.py" "$name" --archive "$archive" --users "$USERS" \
    --password "$PASSWORD" <"$fifo" >"$fifo.out" &
  local helper=$!
  exec {keep}>"$fifo"
  local line="" deadline=$((SECONDS + 600))
  until line=$(grep -m1 '^ready ' "$fifo.out" 2>/dev/null); do
    kill -0 "$helper" 2>/dev/null || { exec {keep}>&-; rm -f "$fifo" "$fifo.out"; say "$name did not start: skipped"; return; }
    ((SECONDS < deadline)) || die "$name: not ready after 600 s"
    sleep 0.5
  done
  read -r _ port _ server_pid version <<<"$line"
  echo "tests/interop/peer_servers.py $name --archive $archive --users $USERS   # $name $version" \
    >>"$results/commands.txt"
  echo "$name $version" >>"$results/versions.txt"
  scenarios "$name" "$mech"
  exec {keep}>&-  # end of input: the helper stops the peer and removes its folder
  wait "$helper" || true
  rm -f "$fifo" "$fifo.out"
}

mkdir -p "$results"
: >"$results/commands.txt"
: >"$results/versions.txt"
say "results in $results"
for archive in $archives; do
  for server in $servers; do
    case $server in
      parley) run_parley ;;
      # Prosody 0.12 stores SCRAM-SHA-1 keys (internal_hashed); ejabberd is set to SCRAM-SHA-256 keys.
      prosody) run_peer prosody SCRAM-SHA-1 ;;
      ejabberd) run_peer ejabberd SCRAM-SHA-256 ;;
      *) die "unknown server '$server' (parley, prosody, ejabberd)" ;;
    esac
  done
done

/usr/bin/python3 "$root/bench/report.py" --results "$results" --docs "$docs" --quick "$quick"
say "wrote $docs/benchmarks.md and $docs/benchmarks/*.png from $results"
