#!/usr/bin/env bash
# hotgate target (127.0.0.1:19082, admin 127.0.0.1:19901), 1 worker, for the reload bench.
# Written to the contract of shared/peers/targets/TEMPLATE.sh. Config: tools/bench/peers/hotgate.yaml
# plus `dataplane: { steering: auto|off, bpffs_root: $HOTGATE_BPFFS_ROOT }`; its own control socket
# RUN_DIR/hotgate/control.sock, so it never talks to another hotgate on the machine.
# Usage: hotgate.sh start [bpf|takeover]|stop|port|modes|pids|reload MODE|stage
#   start bpf       : dataplane.steering auto (BPF steering); start takeover: steering off (listening
#                     fds handed over). Default: $HOTGATE_MODE, else bpf. Exits 1 if the running mode
#                     is not the one asked for (e.g. BPF unavailable and hotgate fell back).
#   reload MODE     : gwctl upgrade --binary A|B --config FILE --auto-commit 0s: the binary alternates
#                     (build/bin/hotgate, build/bin/hotgate_b) so every reload is a real binary upgrade.
#                     Returns once the new version is ready, cut over and committed; the old one hands
#                     its keep-alive connections over, drains and exits by itself. MODE must be the
#                     mode the target was started in.
#   stage           : gwctl upgrade without --auto-commit (ready, not cut over); prints "old=PID new=PID".
# Every generation's PID (the first from $!, the others from gwctl's "started ... (pid N" line) goes
# to RUN_DIR/hotgate/pids; `stop` sends SIGTERM to each one still alive (draining ones included),
# SIGKILL after STOP_GRACE (10 s), after checking /proc/PID/comm and that its command line names
# our control socket.
set -u
. "$(dirname "$0")/lib.sh"
D=$RUN_DIR/hotgate
PORT=19082
BIN_A=${HOTGATE_BIN:-$ROOT_DIR/build/bin/hotgate}
BIN_B=${HOTGATE_BIN_B:-$ROOT_DIR/build/bin/hotgate_b}
GWCTL=${GWCTL_BIN:-$ROOT_DIR/build/bin/gwctl}
BPFFS=${HOTGATE_BPFFS_ROOT:-/sys/fs/bpf/hotgate-bench-reload}
CONF=$D/hotgate.yaml
SOCK=$D/control.sock
PIDS=$D/pids          # "GEN PID BINARY" per generation
GENF=$D/generation    # number of the newest generation (0 = the one `start` launched)

ours() {  # ours PID: a live hotgate whose command line names our control socket
  is_ours "$1" hotgate && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$SOCK"
}
all_pids() {
  { awk '{print $2}' "$PIDS" 2>/dev/null
    sed -n 's/^started .* (pid \([0-9][0-9]*\),.*/\1/p' "$D"/upgrade-*.out 2>/dev/null; } | awk '!seen[$0]++'
}
newest() { awk 'END {print $2}' "$PIDS" 2>/dev/null; }
gwctl() { "$GWCTL" --control "$SOCK" --admin 127.0.0.1:19901 "$@"; }  # our admin, not the 9901 default

# upgrade_to [gwctl upgrade options...]: start the next generation with the other binary.
upgrade_to() {
  local n bin out rc pid
  n=$(($(cat "$GENF") + 1))
  if ((n % 2)); then bin=$BIN_B; else bin=$BIN_A; fi
  out=$D/upgrade-$n.out
  # stdbuf: gwctl's "started ... (pid N" line reaches the file even if `timeout` kills gwctl.
  stdbuf -oL "$GWCTL" --control "$SOCK" upgrade --binary "$bin" --config "$CONF" --log "$D/gen-$n.log" "$@" \
    >"$out" 2>&1
  rc=$?
  pid=$(sed -n 's/^started .* (pid \([0-9][0-9]*\),.*/\1/p' "$out")
  [ -n "$pid" ] && echo "$n $pid $bin" >>"$PIDS"
  echo "$n" >"$GENF"
  cat "$out"
  STAGED_PID=$pid
  return $rc
}

case "${1:-}" in
  start)
    mode=${2:-${HOTGATE_MODE:-bpf}}
    case "$mode" in
      bpf) steering=auto ;;
      takeover) steering=off ;;
      *) echo "hotgate.sh: mode must be bpf or takeover, not '$mode'" >&2; exit 2 ;;
    esac
    mkdir -p "$D"
    for p in $(all_pids); do ours "$p" && { echo "hotgate already running (pid $p); stop it first" >&2; exit 1; }; done
    rm -f "$PIDS" "$D"/upgrade-*.out "$D"/gen-*.log "$SOCK"
    { cat "$PEERS_DIR/hotgate.yaml"
      echo "dataplane: { steering: $steering, bpffs_root: $BPFFS }"; } >"$CONF"
    "$BIN_A" --check-config "$CONF" >"$D/check-config.log" 2>&1 || { cat "$D/check-config.log" >&2; exit 1; }
    echo "$mode" >"$D/mode"
    echo 0 >"$GENF"
    setsid "$BIN_A" --config "$CONF" --control-socket "$SOCK" </dev/null >"$D/gen-0.log" 2>&1 &
    echo "0 $! $BIN_A" >"$PIDS"
    wait_port $PORT 10 "$!" || exit 1
    # The listener comes up a little before the control socket and the admin port: ask until both answer.
    for _ in $(seq 100); do
      running=$(gwctl status 2>/dev/null | sed -n 's/^upgrade: .*(\([a-z]*\) mode)$/\1/p')
      [ -n "$running" ] && break
      sleep 0.05
    done
    if [ "$running" != "$mode" ]; then
      echo "hotgate.sh: asked for $mode mode, hotgate runs in '${running:-?}' mode:" >&2
      gwctl status >&2; exit 1
    fi ;;
  stop)
    mkdir -p "$D"
    pids=()
    for p in $(all_pids); do ours "$p" && pids+=("$p"); done
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do
      if wait_dead "$p" "${STOP_GRACE:-10}"; then echo "hotgate: pid $p exited on SIGTERM"
      elif ours "$p"; then kill -KILL "$p"; wait_dead "$p" 2; echo "hotgate: pid $p SIGKILLed after ${STOP_GRACE:-10}s" >&2
      fi
    done >>"$D/stop.log"
    left=""; for p in $(all_pids); do ours "$p" && left="$left $p"; done
    [ -z "$left" ] || { echo "hotgate.sh: still alive:$left" >&2; exit 1; }
    rm -f "$SOCK"; exit 0 ;;
  port) echo $PORT ;;
  modes) echo "bpf takeover" ;;
  pids)
    alive_list=""; for p in $(all_pids); do ours "$p" && alive_list="$alive_list $p"; done
    echo "generations=$(($(cat "$GENF" 2>/dev/null || echo 0) + 1)) alive:${alive_list:- none} |" \
      "$(gwctl status 2>&1 | sed '/^admin /q' | tr -s ' ' | tr '\n' ';')" ;;
  reload)
    mode=$(cat "$D/mode" 2>/dev/null)
    [ "${2:-}" = "$mode" ] || { echo "hotgate.sh: started in '$mode' mode, cannot reload as '${2:-}'" >&2; exit 2; }
    upgrade_to --auto-commit 0s ;;
  stage)
    old=$(newest)
    upgrade_to || exit 1
    echo "old=$old new=$STAGED_PID" ;;
  *) echo "usage: $0 start [bpf|takeover]|stop|port|modes|pids|reload MODE|stage" >&2; exit 2 ;;
esac
