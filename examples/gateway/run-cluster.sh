#!/usr/bin/env bash
# run-cluster.sh: a three-node gateway cluster on 127.0.0.1, for trying the
# example out. Every process runs in the background; its log and pid file
# live in $GW_DATA (default /tmp/gateway-demo).
#
#   ./run-cluster.sh up          build, start two echo upstreams and three nodes, wait until ready
#   ./run-cluster.sh status      role, readiness and proxy counters of each node
#   ./run-cluster.sh kill N      kill -9 node N (1, 2 or 3)
#   ./run-cluster.sh start N     start node N again (it rejoins with its data)
#   ./run-cluster.sh stop N      stop node N gracefully (SIGTERM)
#   ./run-cluster.sh logs N      follow node N's log
#   ./run-cluster.sh down        stop everything, keep the data
#   ./run-cluster.sh clean       stop everything and delete $GW_DATA
#
# Ports: node N uses raft 700N, admin API 800N, proxy 900N; the echo
# upstreams listen on 9101 (named a) and 9102 (named b).
#
# The admin API needs a bearer token: "up" writes a random one to
# $GW_DATA/admin-tokens (mode 0600) and every node reads it with
# -admin-token-file. Send it with
#   curl -H "Authorization: Bearer $(cat $GW_DATA/admin-tokens)" ...
# The nodes run with -allow-loopback-upstreams, because the demo upstreams
# listen on 127.0.0.1 (a production gateway refuses loopback upstreams).
# With GW_TLS=1 the nodes talk mutual TLS to each other, and the admin API
# is HTTPS that also requires a client certificate from a separate admin
# CA; "gateway gencert" makes both in $GW_DATA/certs and $GW_DATA/admin-certs.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
DATA="${GW_DATA:-/tmp/gateway-demo}"
BIN="$DATA/bin/gateway"
CERTS="$DATA/certs"
ADMIN_CERTS="$DATA/admin-certs"
TOKENS="$DATA/admin-tokens"
COMMON_FLAGS="-admin-token-file $TOKENS -allow-loopback-upstreams"
if [ "${GW_TLS:-0}" = 1 ]; then
  SCHEME=https
  CURL=(curl --cacert "$CERTS/ca.pem" --cert "$ADMIN_CERTS/admin.pem" --key "$ADMIN_CERTS/admin-key.pem")
  TLS_FLAGS="-tls-ca $CERTS/ca.pem -admin-tls -admin-client-ca $ADMIN_CERTS/ca.pem"
else
  SCHEME=http
  CURL=(curl)
  TLS_FLAGS=""
fi

# admin_curl ARGS...: curl to the admin API, with the token (read when
# called: "up" may have just written it).
admin_curl() { "${CURL[@]}" -H "Authorization: Bearer $(cat "$TOKENS")" "$@"; }

die() { echo "run-cluster.sh: $*" >&2; exit 1; }

node_flags() {
  local n=$1 tls=""
  # Each node presents its own certificate, which names its ID.
  [ -n "$TLS_FLAGS" ] && tls="-tls-cert $CERTS/node$n.pem -tls-key $CERTS/node$n-key.pem $TLS_FLAGS"
  echo "-id node$n -dir $DATA/node$n -raft-addr 127.0.0.1:700$n -admin-addr 127.0.0.1:800$n -proxy-addr 127.0.0.1:900$n $COMMON_FLAGS $tls"
}

running() { # running NAME: is the process of pid file NAME alive?
  local pidfile="$DATA/$1.pid"
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

spawn() { # spawn NAME ARGS...: start the gateway binary in the background
  local name=$1; shift
  if running "$name"; then echo "$name is already running (pid $(cat "$DATA/$name.pid"))"; return; fi
  "$BIN" "$@" >>"$DATA/$name.log" 2>&1 &
  echo $! >"$DATA/$name.pid"
}

wait_ready() { # wait_ready N: until node N serves traffic (60s at most)
  local n=$1
  for _ in $(seq 1 600); do
    # Ready, and the proxy has built its table and opened its port.
    if admin_curl -fsS "$SCHEME://127.0.0.1:800$n/status" 2>/dev/null | grep -q '"proxy_serving": true'; then
      # ... and it is ours, not a leftover process on the same port.
      sleep 0.2
      running "node$n" || die "node$n exited; see $DATA/node$n.log (is another gateway using its ports?)"
      echo "node$n ready: admin $SCHEME://127.0.0.1:800$n  proxy http://127.0.0.1:900$n"
      return
    fi
    running "node$n" || die "node$n exited; see $DATA/node$n.log"
    sleep 0.1
  done
  die "node$n not ready after 60s; see $DATA/node$n.log"
}

port_busy() { # port_busy PORT: does something accept connections on it?
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start_node() {
  local n=$1
  case "$n" in 1|2|3) ;; *) die "node must be 1, 2 or 3" ;; esac
  if running "node$n"; then echo "node$n is already running (pid $(cat "$DATA/node$n.pid"))"; return; fi
  for p in "700$n" "800$n" "900$n"; do
    port_busy "$p" && die "port $p is in use by another process: stop it first"
  done
  # Only the very first start of node 1 bootstraps, the others join it;
  # both flags are ignored once a node's data directory holds state.
  if [ "$n" = 1 ]; then
    spawn node1 $(node_flags 1) -bootstrap
  else
    spawn "node$n" $(node_flags "$n") -join 127.0.0.1:7001
  fi
  wait_ready "$n"
}

stop_proc() { # stop_proc NAME SIGNAL
  local name=$1 sig=$2 pidfile="$DATA/$1.pid"
  if running "$name"; then
    local pid; pid=$(cat "$pidfile")
    kill "-$sig" "$pid"
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && die "$name (pid $pid) did not exit"
    echo "$name stopped ($sig)"
  fi
  rm -f "$pidfile"
}

cmd=${1:-}
case "$cmd" in
  up)
    command -v go >/dev/null || die "go is not installed (Go 1.26 or newer is needed)"
    command -v curl >/dev/null || die "curl is not installed"
    mkdir -p "$DATA/bin"
    echo "building $BIN"
    (cd "$HERE" && go build -o "$BIN" .)
    if [ ! -f "$TOKENS" ]; then
      # 32 random bytes, hex: the admin API's one (write) token.
      (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TOKENS" && echo >>"$TOKENS")
      echo "wrote the admin token to $TOKENS"
    fi
    if [ "${GW_TLS:-0}" = 1 ] && [ ! -f "$CERTS/ca.pem" ]; then
      "$BIN" gencert -dir "$CERTS"
      "$BIN" gencert -dir "$ADMIN_CERTS" -ids admin   # a separate CA for admin clients
    fi
    for p in 9101 9102; do
      running echo-a || running echo-b || ! port_busy "$p" || die "port $p is in use by another process: stop it first"
    done
    spawn echo-a echo -addr 127.0.0.1:9101 -name a
    spawn echo-b echo -addr 127.0.0.1:9102 -name b
    for n in 1 2 3; do start_node "$n"; done
    echo "logs and data in $DATA"
    ;;
  start) start_node "${2:?usage: run-cluster.sh start N}" ;;
  kill) stop_proc "node${2:?usage: run-cluster.sh kill N}" KILL ;;
  stop) stop_proc "node${2:?usage: run-cluster.sh stop N}" TERM ;;
  logs) exec tail -f "$DATA/node${2:?usage: run-cluster.sh logs N}.log" ;;
  status)
    for n in 1 2 3; do
      if ! running "node$n"; then echo "node$n: not running"; continue; fi
      admin_curl -fsS "$SCHEME://127.0.0.1:800$n/metrics" | awk -v n="node$n" '
        /^raftkit_is_leader\{/                { role = ($2 == 1) ? "leader  " : "follower" }
        /^raftkit_readiness_state\{.* 1$/     { sub(/.*state="/, "", $1); sub(/".*/, "", $1); state = $1 }
        /^raftkit_applied_index\{/            { applied = $2 }
        /^gateway_proxy_routes /              { routes = $2 }
        /^gateway_proxy_full_rebuilds_total / { rebuilds = $2 }
        /^gateway_proxy_route_swaps_total /   { swaps = $2 }
        END { printf "%s: %s %-11s applied=%s routes=%s full_rebuilds=%s route_swaps=%s\n", n, role, state, applied, routes, rebuilds, swaps }'
    done
    ;;
  down)
    for n in 3 2 1; do stop_proc "node$n" TERM; done
    stop_proc echo-a TERM; stop_proc echo-b TERM
    ;;
  clean)
    "$0" down
    rm -rf "$DATA"
    echo "removed $DATA"
    ;;
  *)
    sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
