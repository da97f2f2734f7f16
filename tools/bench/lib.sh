# shellcheck shell=bash
# tools/bench/lib.sh: process and port helpers for the bench scripts. Sourced, not executed.
# Adapted from the peers harness (shared/peers/targets/lib.sh): every server is started as a
# direct child of the bench script, under `timeout` so none can outlive a killed bench, and is
# stopped only by the PID the script got from `$!` (a child's PID cannot be reused before the
# script reaps it with `wait`).

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true   # raise the soft FD limit to the hard limit

# alive PID: true if PID exists and is not a zombie.
alive() {
  local st
  [[ -n ${1:-} && -r /proc/$1/stat ]] || return 1
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z ]]
}

# port_busy PORT: true if something listens on 127.0.0.1:PORT (or on any address).
port_busy() {
  ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

# wait_port PORT [TIMEOUT_S] [PID]: wait until 127.0.0.1:PORT accepts a TCP connection; give up
# early if PID (the server we started) has died.
wait_port() {
  local port=$1 t=${2:-5} pid=${3:-} i=0
  while ((i < t * 20)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    if [[ -n $pid ]] && ! alive "$pid"; then
      echo "bench: process $pid exited before port $port came up" >&2
      return 1
    fi
    sleep 0.05
    i=$((i + 1))
  done
  echo "bench: port $port not up after ${t}s" >&2
  return 1
}

# wait_dead PID [TIMEOUT_S]
wait_dead() {
  local pid=$1 t=${2:-5} i=0
  while alive "$pid" && ((i < t * 20)); do sleep 0.05; i=$((i + 1)); done
  ! alive "$pid"
}

# secs DURATION: "10s" | "10" | "1m" -> seconds.
secs() {
  case "$1" in
    *m) echo $((${1%m} * 60)) ;;
    *s) echo "${1%s}" ;;
    *) echo "$1" ;;
  esac
}

# cpu_ticks PID: utime + stime, in clock ticks (getconf CLK_TCK a second), of PID and its
# descendants (the server under the timeout wrapper, and NGINX's or HAProxy's workers under it).
cpu_ticks() {
  local total=0 p c
  local -a pids=("$1") queue=("$1")
  while ((${#queue[@]})); do
    p=${queue[0]}; queue=("${queue[@]:1}")
    for c in $(pgrep -P "$p" 2>/dev/null); do pids+=("$c"); queue+=("$c"); done
  done
  for p in "${pids[@]}"; do
    [[ -r /proc/$p/stat ]] || continue
    total=$((total + $(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

# BENCH_PIDS: "name:pid" of every server this script started, for stop_all.
BENCH_PIDS=()

# start_bg NAME BUDGET_S LOG CMD...: start CMD in the background under `timeout BUDGET_S` (which
# forwards SIGTERM to CMD and its process group) with output to LOG; sets START_PID.
start_bg() {
  local name=$1 budget=$2 log=$3
  shift 3
  timeout -k 5 "$budget" "$@" </dev/null >"$log" 2>&1 &
  START_PID=$!
  BENCH_PIDS+=("$name:$START_PID")
}

# stop_bg NAME PID [GRACE_S]: SIGTERM (through timeout), wait up to GRACE_S, then SIGKILL the
# timeout wrapper's process group; reap it. Prints how it ended. Only touches our own child PID.
stop_bg() {
  local name=$1 pid=$2 grace=${3:-10} how="term" t0 t1
  if ! alive "$pid"; then
    wait "$pid" 2>/dev/null || true
    echo "bench: $name (pid $pid) had already exited"
    return 0
  fi
  t0=$(date +%s%N)
  kill -TERM "$pid" 2>/dev/null
  if ! wait_dead "$pid" "$grace"; then
    how="kill"
    # timeout runs CMD in its own process group, whose id is timeout's PID.
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
    wait_dead "$pid" 3
  fi
  wait "$pid" 2>/dev/null || true
  t1=$(date +%s%N)
  echo "bench: stopped $name (pid $pid) by $how in $(((t1 - t0) / 1000000)) ms"
}

# stop_all: stop every server started with start_bg, newest first.
stop_all() {
  local i entry
  for ((i = ${#BENCH_PIDS[@]} - 1; i >= 0; i--)); do
    entry=${BENCH_PIDS[$i]}
    stop_bg "${entry%%:*}" "${entry#*:}" "${STOP_GRACE:-20}"
  done
  BENCH_PIDS=()
}
