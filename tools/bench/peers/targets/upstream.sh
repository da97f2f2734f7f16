#!/usr/bin/env bash
# Upstream origin (nginx, 1 worker, 127.0.0.1:19000, returns 200 "ok\n"), daemonized.
# Adapted from shared/peers/targets/backend.sh; config: tools/bench/peers/backend-nginx.conf.
# Usage: upstream.sh start|stop|port
set -u
. "$(dirname "$0")/lib.sh"
D=$RUN_DIR/upstream
NGINX=/usr/sbin/nginx
PORT=19000
case "${1:-}" in
  start)
    mkdir -p "$D"
    if [ -f "$D/nginx.pid" ] && is_ours "$(cat "$D/nginx.pid")" nginx; then exit 0; fi
    render "$PEERS_DIR/backend-nginx.conf" "$D/nginx.conf"
    $NGINX -p "$D/" -e "$D/error.log" -c "$D/nginx.conf" || exit 1
    wait_port $PORT 5 ;;
  stop)
    [ -f "$D/nginx.pid" ] && stop_pid "$(cat "$D/nginx.pid")" nginx QUIT
    rm -f "$D/nginx.pid"; exit 0 ;;
  port) echo $PORT ;;
  *) echo "usage: $0 start|stop|port" >&2; exit 2 ;;
esac
