#!/usr/bin/env bash
# NGINX reverse proxy target (127.0.0.1:19080), 1 worker, daemonized (master + worker).
# Adapted from shared/peers/targets/nginx.sh; config: tools/bench/peers/proxy-nginx.conf.
# Usage: nginx.sh start|stop|port|modes|pids|reload MODE
#   reload hup      : nginx -s reload (SIGHUP to master; master keeps listen sockets, starts new worker)
#   reload upgrade  : binary upgrade: USR2 old master -> new master execs, then WINCH + QUIT old master
set -u
. "$(dirname "$0")/lib.sh"
D=$RUN_DIR/nginx
NGINX=/usr/sbin/nginx          # absolute path: USR2 re-execs argv[0]
CONF=$D/nginx.conf
PORT=19080
PIDF=$D/nginx.pid              # written by nginx (pid directive of the rendered config)
ARGS=(-p "$D/" -e "$D/error.log" -c "$CONF")

master() { cat "$PIDF" 2>/dev/null; }


case "${1:-}" in
  start)
    mkdir -p "$D"
    if is_ours "$(master)" nginx; then echo "nginx already running"; exit 0; fi
    render "$PEERS_DIR/proxy-nginx.conf" "$CONF"
    $NGINX "${ARGS[@]}" || exit 1
    wait_port $PORT 5 ;;
  stop)
    for f in "$PIDF" "$PIDF.oldbin"; do
      [ -f "$f" ] && stop_pid "$(cat "$f")" nginx QUIT
    done
    rm -f "$PIDF" "$PIDF.oldbin"; exit 0 ;;
  port) echo $PORT ;;
  modes) echo "hup upgrade" ;;
  pids) m=$(master); echo "master=$m workers=$(children "$m" | tr '\n' ' ')" ;;
  reload)
    m=$(master); is_ours "$m" nginx || { echo "nginx not running" >&2; exit 1; }
    oldw=$(children "$m" | tr '\n' ' ')
    case "${2:-}" in
      hup)
        $NGINX "${ARGS[@]}" -s reload || exit 1
        wait_new_worker nginx "$m" "$oldw" ;;
      upgrade)
        kill -USR2 "$m" || exit 1
        # new master writes nginx.pid, old one is renamed to nginx.pid.oldbin
        i=0; new=""
        while [ $i -lt 60 ]; do
          new=$(master)
          if [ -n "$new" ] && [ "$new" != "$m" ] && is_ours "$new" nginx && [ -n "$(children "$new")" ]; then break; fi
          sleep 0.05; i=$((i + 1)); new=""
        done
        [ -n "$new" ] || { echo "nginx upgrade: new master did not come up" >&2; exit 1; }
        kill -WINCH "$m"      # old workers: graceful shutdown
        kill -QUIT "$m"       # old master: graceful exit (listen fds stay open in new master)
        wait_dead "$m" 3 || echo "nginx upgrade: old master $m still alive" >&2
        rm -f "$PIDF.oldbin" ;;
      *) echo "unknown nginx reload mode '${2:-}' (modes: hup upgrade)" >&2; exit 2 ;;
    esac ;;
  *) echo "usage: $0 start|stop|port|modes|pids|reload MODE" >&2; exit 2 ;;
esac
