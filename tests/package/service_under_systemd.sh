#!/usr/bin/env bash
# service_under_systemd.sh BUILD_DIR: the packaged unit (packaging/hotgate.service) under a real
# systemd as PID 1, with its sandboxing and capabilities as shipped, and only its paths pointed
# at BUILD_DIR's binaries (and its user at nobody: the package's postinst makes "hotgate").
# vmtests/suite runs it in a VM (vmtests/run --systemd): CI's machine runs no systemd as PID 1.
#
# Checks: `systemctl start` returns when hotgate says READY=1 and the service is active with
# hotgate as its main process; `systemctl reload` (gwctl upgrade --auto-commit 5s, to
# hotgate_b) moves MainPID to the new version, the service stays active and a keep-alive load
# across it fails no request; the access log in LogsDirectory names both versions;
# `systemctl stop` drains and ends the service cleanly.
set -euo pipefail

BUILD=$(cd "${1:?usage: service_under_systemd.sh BUILD_DIR}" && pwd)
ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
[[ $(cat /proc/1/comm) == systemd ]] || { echo "FAIL: PID 1 is $(cat /proc/1/comm), not systemd (run it with vmtests/run --systemd)"; exit 1; }

PORT=18080
ADMIN=19901
UNIT=/run/systemd/system/hotgate.service
WORK=/run/hotgate-service-test  # not /tmp: the unit has PrivateTmp=yes
mkdir -p "$WORK"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
show() { systemctl show -p "$1" --value hotgate.service; }
version() { curl -fsS -o /dev/null -w '%header{x-hotgate-version}' "http://127.0.0.1:$PORT/" 2>/dev/null || true; }
diagnose() {
  systemctl status --no-pager hotgate.service || true
  journalctl --no-pager -u hotgate.service 2>/dev/null | tail -n 30 || true
  tail -n 30 "$WORK"/service.log /run/hotgate/hotgate-*.log 2>/dev/null || true
  dmesg | grep -i -E "out of memory|killed process" | tail -n 5 || true
}

cat >"$WORK/hotgate.yaml" <<YAML
workers: 1
admin: { address: 127.0.0.1:$ADMIN }
dataplane: { steering: auto, bpffs_root: /sys/fs/bpf/hotgate }
listeners: [{ name: public, address: 127.0.0.1:$PORT }]
timeouts: { drain: 5s }
access_log: { path: /var/log/hotgate/access.log, fields: [time, status, version, path] }
routes:
  - { name: hello, match: { path_prefix: / }, direct_response: { status: 200, body: "hello\n" } }
YAML
chmod 0644 "$WORK/hotgate.yaml"

# The unit as shipped, but for paths and the user. ExecReload's binary is hotgate_b, the same
# gateway with another build version, so the reload is seen in x-hotgate-version.
sed -e "s|^ExecStart=/usr/sbin/hotgate --config /etc/hotgate/hotgate.yaml|ExecStart=$BUILD/bin/hotgate --config $WORK/hotgate.yaml|" \
    -e "s|^ExecReload=/usr/bin/gwctl upgrade --binary /usr/sbin/hotgate|ExecReload=$BUILD/bin/gwctl upgrade --binary $BUILD/bin/hotgate_b|" \
    -e "s|^User=hotgate|User=nobody|" -e "s|^Group=hotgate|Group=nogroup|" \
    -e "s|chown -R hotgate:hotgate|chown -R nobody:nogroup|" \
    -e "s|^\[Service\]|[Service]\nStandardOutput=append:$WORK/service.log\nStandardError=inherit|" \
    -e "s|^\[Unit\]|[Unit]\nDefaultDependencies=no|" \
    "$ROOT/packaging/hotgate.service" >"$UNIT"
grep -q "^ExecStart=$BUILD/bin/hotgate " "$UNIT" && grep -q "^ExecReload=$BUILD/bin/gwctl upgrade --binary $BUILD/bin/hotgate_b --auto-commit 5s$" "$UNIT" ||
  { echo "FAIL: packaging/hotgate.service's ExecStart or ExecReload changed; this test's sed no longer fits"; exit 1; }
systemctl daemon-reload

# 1. Start: Type=notify, so `start` returns once hotgate sent READY=1.
if ! timeout 120 systemctl start hotgate.service; then
  diagnose
  echo "FAIL: systemctl start hotgate"
  exit 1
fi
[[ $(show ActiveState) == active ]] || fail "after start: ActiveState $(show ActiveState)"
first=$(show MainPID)
[[ $(cat "/proc/$first/comm" 2>/dev/null) == hotgate ]] || fail "after start: MainPID $first is not hotgate"
[[ $(stat -c %U "/proc/$first") == nobody ]] || fail "hotgate runs as $(stat -c %U "/proc/$first"), not the unit's user"
grep -q "mode bpf" "$WORK/service.log" || fail "not in BPF mode with the unit's capabilities: $(grep -m1 'serving' "$WORK/service.log")"
v1=$(version)
[[ -n $v1 ]] || fail "no answer on 127.0.0.1:$PORT after start"
echo "started: pid $first, $v1"

# 2. Reload under keep-alive load: a hot upgrade to hotgate_b, and systemd follows it.
"$BUILD/bin/loadgen" --target "127.0.0.1:$PORT" --duration 20 --rate 100 --keepalive 4 --path /load \
  --json "$WORK/load.json" >"$WORK/load.out" 2>&1 &
load=$!
sleep 3
if ! timeout 120 systemctl reload hotgate.service; then
  diagnose
  fail "systemctl reload hotgate"
fi
second=$(show MainPID)
[[ $(show ActiveState) == active ]] || fail "after reload: ActiveState $(show ActiveState)"
[[ $second != "$first" && $(cat "/proc/$second/comm" 2>/dev/null) == hotgate* ]] ||
  fail "after reload: MainPID $second (was $first) is not the new version"
v2=$(version)
[[ -n $v2 && $v2 != "$v1" && $v2 == *-b/* ]] || fail "after reload: serving '$v2' (was $v1), not hotgate_b"
for _ in $(seq 100); do kill -0 "$first" 2>/dev/null || break; sleep 0.1; done
kill -0 "$first" 2>/dev/null && fail "the old version (pid $first) did not exit after the commit"
echo "reloaded: pid $second, $v2"
wait "$load" || true
failed=$(sed -n 's/.*"failed": *\([0-9]*\).*/\1/p' "$WORK/load.json" | head -n 1)
[[ $failed == 0 ]] || fail "the load across the reload had failed requests: ${failed:-no summary} ($(tail -n 2 "$WORK/load.out"))"

# 3. The access log in the unit's LogsDirectory, both versions in it.
log=/var/log/hotgate/access.log
grep -q "\"version\":\"$v1\"" "$log" 2>/dev/null || fail "$log has no line of $v1"
grep -q "\"version\":\"$v2\"" "$log" 2>/dev/null || fail "$log has no line of $v2"

# 4. Stop: STOPPING=1, a drain, a clean end.
timeout 60 systemctl stop hotgate.service || fail "systemctl stop hotgate"
[[ $(show ActiveState) == inactive ]] || fail "after stop: ActiveState $(show ActiveState)"
[[ $(show Result) == success ]] || fail "after stop: Result $(show Result)"

if ((failures)); then
  diagnose
  echo "service under systemd: $failures failure(s)"
  exit 1
fi
echo "service under systemd: ok (start, reload to hotgate_b with MainPID $first -> $second, 0 failed requests, stop)"
