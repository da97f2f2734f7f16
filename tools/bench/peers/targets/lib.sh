# shellcheck shell=bash
# Shared helpers for the reload target scripts. Sourced, not executed.
# Adapted from shared/peers/targets/lib.sh; alive/wait_port/wait_dead come from tools/bench/lib.sh.
# The target scripts start servers as daemons (reloads need that: nginx -s reload/USR2, haproxy
# -sf, gwctl upgrade's setsid'd successors), so they keep every PID in their own pid files and
# check /proc/PID/comm before signalling one (guards against PID reuse).
PEERS_DIR=${PEERS_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BENCH_DIR=${BENCH_DIR:-$(cd "$PEERS_DIR/.." && pwd)}
ROOT_DIR=${ROOT_DIR:-$(cd "$BENCH_DIR/../.." && pwd)}
RUN_DIR=${RUN_DIR:-/tmp/hotgate-bench-reload/run}
# shellcheck source=tools/bench/lib.sh
. "$BENCH_DIR/lib.sh"

# render SRC DST: copy a config from tools/bench/peers, replacing @RUN@ by $RUN_DIR.
render() { sed "s|@RUN@|$RUN_DIR|g" "$1" >"$2"; }

# is_ours PID NAME: PID alive and its executable name matches.
is_ours() {
  alive "${1:-}" && grep -q "$2" "/proc/$1/comm" 2>/dev/null
}

# children PID: direct live children PIDs (one per line).
children() {
  local p
  for p in $(cat "/proc/$1/task/"*/children 2>/dev/null); do
    alive "$p" && echo "$p"
  done
}

# stop_pid PID NAME [SOFT_SIGNAL] [GRACE_S]: graceful signal, then TERM, then KILL; only if ours.
stop_pid() {
  local pid=$1 name=$2 sig=${3:-TERM} grace=${4:-5}
  is_ours "$pid" "$name" || return 0
  kill -"$sig" "$pid" 2>/dev/null
  wait_dead "$pid" "$grace" && return 0
  is_ours "$pid" "$name" && kill -TERM "$pid" 2>/dev/null
  wait_dead "$pid" 3 && return 0
  echo "stop_pid: $name pid $pid ignored SIGTERM; SIGKILL" >&2
  is_ours "$pid" "$name" && kill -KILL "$pid" 2>/dev/null
  wait_dead "$pid" 2
}

# wait_new_worker NAME MASTER OLD_LIST: wait (<=3s) until MASTER has a live worker not in OLD_LIST.
wait_new_worker() {
  local name=$1 m=$2 old=" $3 " i=0 w
  while [ $i -lt 60 ]; do
    for w in $(children "$m"); do
      case "$old" in *" $w "*) ;; *) return 0 ;; esac
    done
    sleep 0.05; i=$((i + 1))
  done
  echo "$name: no new worker under master $m" >&2; return 1
}
