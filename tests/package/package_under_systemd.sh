#!/usr/bin/env bash
# package_under_systemd.sh FIRST_DEB NEXT_DEB BUILD_DIR: the documented install and upgrade path
# (docs/operations.md, "Installing and running as a service") under a real systemd as PID 1,
# with the package exactly as built: its maintainer scripts, unit, user, config and logrotate
# file. FIRST_DEB and NEXT_DEB come from upgrade_debs.sh; BUILD_DIR gives the load generator.
# vmtests/suite runs it in a VM (vmtests/run --systemd, whose /etc, /usr and /var are overlays):
# CI's machine runs no systemd as PID 1, and installing the package would change it.
#
# Checks, in order:
#   1. `apt install ./FIRST_DEB`: postinst creates the hotgate user, enables and starts the
#      service; `start` returned at READY=1; hotgate runs as that user, in BPF mode with only
#      the unit's capabilities, and answers on the packaged config's 127.0.0.1:8080.
#   2. `apt install ./NEXT_DEB` leaves the running gateway serving (no restart; postinst says
#      to reload), then `systemctl reload hotgate` under keep-alive load hands over to the new
#      binary: MainPID moves to it, the old one exits, not one request fails, and the new
#      version logs to the journal under its own PID, as the first one does.
#   3. The access log in /var/log/hotgate names both versions; `logrotate -f` of the packaged
#      file rotates it and the gateway writes on in a new file (SIGUSR1 through systemd).
#   4. Each capability the unit grants is needed: without it, hotgate loses what the unit's
#      comment says it is for (capabilities_under_systemd.sh); then the packaged unit runs again.
#   5. `dpkg --remove` stops the service cleanly and keeps the config; `dpkg --purge` removes it,
#      the state and the logs.
set -euo pipefail

usage="usage: package_under_systemd.sh FIRST_DEB NEXT_DEB BUILD_DIR"
FIRST=$(readlink -f "${1:?$usage}")
NEXT=$(readlink -f "${2:?$usage}")
BUILD=$(cd "${3:?$usage}" && pwd)
[[ $(cat /proc/1/comm) == systemd ]] || { echo "FAIL: PID 1 is $(cat /proc/1/comm), not systemd (run it with vmtests/run --systemd)"; exit 1; }
getent passwd hotgate >/dev/null && { echo "FAIL: a hotgate user exists before the install: not a clean machine"; exit 1; }

PORT=8080  # the packaged /etc/hotgate/hotgate.yaml
WORK=/run/hotgate-package-test
mkdir -p "$WORK"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
show() { systemctl show -p "$1" --value hotgate.service; }
version() { curl -fsS -o /dev/null -w '%header{x-hotgate-version}' "http://127.0.0.1:$PORT/" 2>/dev/null || true; }
user_of() { stat -c %U "/proc/$1" 2>/dev/null || echo gone; }
diagnose() {
  systemctl status --no-pager hotgate.service || true
  journalctl --no-pager -u hotgate.service 2>/dev/null | tail -n 30 || true
  tail -n 30 /run/hotgate/hotgate-*.log 2>/dev/null || true
  dmesg | grep -i -E "out of memory|killed process" | tail -n 5 || true
}
apt_install() {  # apt_install DEB NAME: as the docs say, `apt install ./hotgate_*.deb`
  if ! timeout 300 apt-get install -y -q --no-install-recommends "$1" >"$WORK/apt-$2.log" 2>&1; then
    tail -n 30 "$WORK/apt-$2.log"
    diagnose
    echo "FAIL: apt-get install $1"
    exit 1
  fi
}
export DEBIAN_FRONTEND=noninteractive
# The man-db trigger would index every manual page of this machine, minutes in an emulated VM
# (/var is an overlay: the host's file stays).
rm -f /var/lib/man-db/auto-update

# 1. First install: the user, the service enabled and started (Type=notify: READY=1 when serving).
apt_install "$FIRST" first
getent passwd hotgate >/dev/null || fail "postinst made no hotgate user"
[[ $(systemctl is-enabled hotgate.service 2>&1) == enabled ]] || fail "not enabled after the install: $(systemctl is-enabled hotgate.service 2>&1)"
[[ $(show ActiveState) == active ]] || { diagnose; fail "not active after the install: $(show ActiveState)"; }
first=$(show MainPID)
[[ $(cat "/proc/$first/comm" 2>/dev/null) == hotgate ]] || fail "after the install: MainPID $first is not hotgate"
[[ $(user_of "$first") == hotgate ]] || fail "hotgate runs as $(user_of "$first"), not as the hotgate user"
mode=$(gwctl -o json status | sed -n 's/.*"mode": *"\([a-z]*\)".*/\1/p' | head -n 1)
[[ $mode == bpf ]] || fail "mode '$mode', not bpf, with the unit's capabilities"
[[ $(curl -fsS "http://127.0.0.1:$PORT/" 2>&1) == "hello from hotgate" ]] || fail "the packaged config does not answer on 127.0.0.1:$PORT"
v1=$(version)
[[ ${v1%%/*} == "$(dpkg-deb -f "$FIRST" Version | tr + -)" ]] || fail "serving '$v1', not the first package's version"
echo "[${SECONDS}s] installed: pid $first, $v1"

# 2. Upgrade: the package first (the gateway keeps serving the old binary), then the reload
# under keep-alive load.
apt_install "$NEXT" next
grep -q "run 'systemctl reload hotgate'" "$WORK/apt-next.log" || fail "the upgrade's postinst did not say to reload"
[[ $(show MainPID) == "$first" && $(version) == "$v1" ]] ||
  fail "installing the next package restarted the gateway (MainPID $(show MainPID), serving $(version))"
[[ $(/usr/sbin/hotgate --version | awk '{print $2}') == "$(dpkg-deb -f "$NEXT" Version | tr + -)" ]] ||
  fail "/usr/sbin/hotgate is not the next package's binary"
echo "[${SECONDS}s] next package installed, the first version serves on"
"$BUILD/bin/loadgen" --target "127.0.0.1:$PORT" --duration 20 --rate 100 --keepalive 4 --path /load \
  --json "$WORK/load.json" >"$WORK/load.out" 2>&1 &
load=$!
sleep 2
if ! timeout 120 systemctl reload hotgate.service; then
  diagnose
  fail "systemctl reload hotgate"
fi
second=$(show MainPID)
[[ $(show ActiveState) == active ]] || fail "after reload: ActiveState $(show ActiveState)"
[[ $second != "$first" && $(cat "/proc/$second/comm" 2>/dev/null) == hotgate ]] ||
  fail "after reload: MainPID $second (was $first) is not the new version"
[[ $(user_of "$second") == hotgate ]] || fail "the new version runs as $(user_of "$second")"
v2=$(version)
[[ ${v2%%/*} == "$(dpkg-deb -f "$NEXT" Version | tr + -)" ]] || fail "after reload: serving '$v2' (was $v1), not the next package's version"
for _ in $(seq 100); do kill -0 "$first" 2>/dev/null || break; sleep 0.1; done
kill -0 "$first" 2>/dev/null && fail "the old version (pid $first) did not exit after the commit"
journalctl --no-pager -o cat -u hotgate.service _PID="$second" SYSLOG_IDENTIFIER=hotgate 2>/dev/null |
  grep -q "serving (pid $second" || fail "the new version's log is not in the journal under its own PID"
echo "[${SECONDS}s] upgraded: pid $second, $v2"
wait "$load" || true
echo "[${SECONDS}s] load ended"
summary() { /usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$WORK/load.json" "$1" 2>/dev/null || true; }
failed=$(summary failed)
requests=$(summary ok)
[[ $failed == 0 && ${requests:-0} -gt 0 ]] ||
  fail "the load across the upgrade: ${failed:-no summary} failed of ${requests:-?} ($(tail -n 2 "$WORK/load.out"))"

# 3. The access log: both versions, then a rotation by the packaged logrotate file.
log=/var/log/hotgate/access.log
grep -q "\"version\":\"$v1\"" "$log" 2>/dev/null || fail "$log has no line of $v1"
grep -q "\"version\":\"$v2\"" "$log" 2>/dev/null || fail "$log has no line of $v2"
if logrotate -f /etc/logrotate.d/hotgate >"$WORK/logrotate.out" 2>&1; then
  [[ -s $log.1 ]] || fail "logrotate left no $log.1"
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT/after-rotation" || true
  for _ in $(seq 50); do grep -q after-rotation "$log" 2>/dev/null && break; sleep 0.1; done
  grep -q after-rotation "$log" 2>/dev/null || fail "no line in the new $log after the rotation (no reopen?)"
  [[ $(stat -c %U "$log" 2>/dev/null) == hotgate ]] || fail "the new $log belongs to $(stat -c %U "$log" 2>/dev/null)"
  grep -q after-rotation "$log.1" && fail "the request after the rotation went to the rotated file"
else
  fail "logrotate -f /etc/logrotate.d/hotgate: $(cat "$WORK/logrotate.out")"
fi

echo "[${SECONDS}s] rotated"

# 4. Each capability is needed (the runs without one fail on purpose: step 5 reads the journal
# from after them).
"$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/capabilities_under_systemd.sh" ||
  fail "the capability runs (above)"
running=$(show MainPID)
[[ $(show ActiveState) == active && $(cat "/proc/$running/comm" 2>/dev/null) == hotgate ]] ||
  fail "the packaged unit is not running after the capability runs"
echo "[${SECONDS}s] capabilities checked"

# 5. Remove (the service stops and drains, the config stays), then purge.
cursor=$(journalctl -q -n 0 --show-cursor | sed -n 's/^-- cursor: //p')
timeout 120 dpkg --remove hotgate >"$WORK/apt-remove.log" 2>&1 || fail "dpkg --remove hotgate: $(tail -n 5 "$WORK/apt-remove.log")"
kill -0 "$running" 2>/dev/null && fail "hotgate (pid $running) still runs after the remove"
[[ $(show ActiveState) == inactive ]] || fail "after the remove: ActiveState $(show ActiveState)"
ends=$(journalctl --no-pager -o cat -u hotgate.service --after-cursor "$cursor" 2>/dev/null |
  grep -E "Deactivated successfully|Failed with result|Killing process" || true)
[[ $ends == *"Deactivated successfully"* && $ends != *Failed* && $ends != *Killing* ]] ||
  fail "the stop was not clean: ${ends:-no journal}"
[[ -e /lib/systemd/system/hotgate.service ]] && fail "the unit file is still there after the remove"
[[ -f /etc/hotgate/hotgate.yaml ]] || fail "the remove took the config (a conffile stays until purge)"
timeout 120 dpkg --purge hotgate >"$WORK/apt-purge.log" 2>&1 || fail "dpkg --purge hotgate: $(tail -n 5 "$WORK/apt-purge.log")"
for left in /etc/hotgate /var/lib/hotgate /var/log/hotgate /etc/logrotate.d/hotgate; do
  [[ -e $left ]] && fail "$left is still there after the purge"
done

echo "[${SECONDS}s] removed and purged"
if ((failures)); then
  diagnose
  echo "package under systemd: $failures failure(s)"
  exit 1
fi
echo "package under systemd: ok (install, upgrade under load and reload with MainPID $first -> $second, 0 failed of $requests requests, logrotate, each capability needed, remove, purge)"
