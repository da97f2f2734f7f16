#!/usr/bin/env bash
# HAProxy target (127.0.0.1:19081), master-worker mode (-W -D), 1 worker x 1 thread.
# Adapted from shared/peers/targets/haproxy.sh. Config: tools/bench/peers/haproxy-reuse-always.cfg
# (HAPROXY_REUSE=safe: peers/haproxy.cfg, port 19083) plus the stats socket that -x needs:
#   stats socket RUN_DIR/haproxy/stats.sock mode 600 level admin expose-fd listeners
# Usage: haproxy.sh start|stop|port|modes|pids|reload MODE
#   reload sf   : start a NEW master-worker with -sf <old master>; it binds fresh sockets (SO_REUSEPORT),
#                 the old one closes its own -> no FD handover ("reload without -x")
#   reload x    : same, plus -x stats.sock: new process fetches the listening FDs from the old one
#   reload usr2 : master-worker reload: SIGUSR2 to the master, which re-execs itself and spawns a new worker
set -u
. "$(dirname "$0")/lib.sh"
D=$RUN_DIR/haproxy
HAPROXY=/usr/sbin/haproxy
case "${HAPROXY_REUSE:-always}" in
  always) SRC=$PEERS_DIR/haproxy-reuse-always.cfg ;;
  safe) SRC=$PEERS_DIR/haproxy.cfg ;;
  *) echo "HAPROXY_REUSE must be always or safe" >&2; exit 2 ;;
esac
PORT=$(awk '$1 == "bind" { split($2, a, ":"); print a[2]; exit }' "$SRC")
CONF=$D/haproxy.cfg
PIDF=$D/haproxy.pid
SOCK=$D/stats.sock
ALL=$D/all-masters          # every master PID we launched (for cleanup)

master() { cat "$PIDF" 2>/dev/null; }


launch() {  # extra args...
  $HAPROXY -W -D -f "$CONF" -p "$PIDF" "$@" || return 1
  master >> "$ALL"
}

case "${1:-}" in
  start)
    mkdir -p "$D"
    if is_ours "$(master)" haproxy; then echo "haproxy already running"; exit 0; fi
    : > "$ALL"
    sed "/^global/a\\    stats socket $SOCK mode 600 level admin expose-fd listeners" "$SRC" > "$CONF"
    $HAPROXY -c -q -f "$CONF" || exit 1
    launch || exit 1
    wait_port "$PORT" 5 ;;
  stop)
    for p in $(master) $(sort -u "$ALL" 2>/dev/null); do stop_pid "$p" haproxy TERM; done
    rm -f "$PIDF" "$ALL"; exit 0 ;;
  port) echo "$PORT" ;;
  modes) echo "sf x usr2" ;;
  pids) m=$(master); echo "master=$m workers=$(children "$m" | tr '\n' ' ')" ;;
  reload)
    m=$(master); is_ours "$m" haproxy || { echo "haproxy not running" >&2; exit 1; }
    case "${2:-}" in
      sf)   launch -sf "$m" ;;
      x)    launch -x "$SOCK" -sf "$m" ;;
      usr2)
        oldw=$(children "$m" | tr '\n' ' ')
        kill -USR2 "$m" || exit 1
        wait_new_worker haproxy "$m" "$oldw" ;;
      *) echo "unknown haproxy reload mode '${2:-}' (modes: sf x usr2)" >&2; exit 2 ;;
    esac ;;
  *) echo "usage: $0 start|stop|port|modes|pids|reload MODE" >&2; exit 2 ;;
esac
