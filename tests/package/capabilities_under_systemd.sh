#!/usr/bin/env bash
# capabilities_under_systemd.sh: each capability the installed hotgate.service grants is needed.
# Run by package_under_systemd.sh with the package installed (under systemd as PID 1, in a VM).
#
# The unit runs once with all of its AmbientCapabilities, then once without each of them, each
# time with a drop-in in /run/systemd/system/hotgate.service.d that changes nothing else but the
# config file and the network namespace (/run/netns/hgcaps, made here, with a veth pair for the
# XDP front: XDP attaches only to a device of a namespace the test made). Without a capability,
# the unit must lose exactly what the unit's comment says it is for:
#   CAP_BPF               serves, in listener-fd-takeover mode ("neither CAP_BPF nor CAP_SYS_ADMIN")
#   CAP_DAC_READ_SEARCH   serves in takeover mode: the pin root under /sys/fs/bpf (0700 root) is
#                         out of reach
#   CAP_PERFMON           serves without the health profile (hotgate_health_info); Linux 6.1 also
#                         refuses the steering program (EFAULT), so in takeover mode there
#   CAP_NET_BIND_SERVICE  does not start with a listener on port 80
#   CAP_NET_ADMIN         does not start with an XDP front
# A capability the unit grants and this list does not know fails the test: say what it is for.
# At the end the drop-in and the namespace go, and the packaged unit runs again.
set -euo pipefail

UNIT=/lib/systemd/system/hotgate.service
DROPIN_DIR=/run/systemd/system/hotgate.service.d
DROPIN=$DROPIN_DIR/capabilities-test.conf
WORK=/run/hotgate-caps
NETNS=hgcaps
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
in_ns() { ip netns exec "$NETNS" "$@"; }

read -r -a granted <<<"$(sed -n 's/^AmbientCapabilities=//p' "$UNIT")"
((${#granted[@]} > 0)) || { echo "FAIL: no AmbientCapabilities= in $UNIT"; exit 1; }

mkdir -p "$WORK" "$DROPIN_DIR"
chmod 0755 "$WORK"
ip netns add "$NETNS"
ip -n "$NETNS" link set lo up
ip -n "$NETNS" link add hgcaps0 type veth peer name hgcaps1
ip -n "$NETNS" link set hgcaps0 up
ip -n "$NETNS" link set hgcaps1 up

# The packaged config with a short drain (each run ends with a stop), and with port 80, an XDP
# front, or both.
config() {  # config NAME PORT [XDP_INTERFACE]
  sed -e "s/^\(  *address: 127.0.0.1:\)8080/\1$2/" -e 's/^\(  drain:\) *15s/\1 1s/' /etc/hotgate/hotgate.yaml >"$WORK/$1.yaml"
  if [[ -n ${3:-} ]]; then sed -i "s/^dataplane:$/dataplane:\n  xdp_interfaces: [$3]/" "$WORK/$1.yaml"; fi
  grep -q "127.0.0.1:$2" "$WORK/$1.yaml" || { echo "FAIL: could not set port $2 in a copy of /etc/hotgate/hotgate.yaml"; exit 1; }
  chmod 0644 "$WORK/$1.yaml"
}
config plain 8080
config low-port 80
config xdp 8080 hgcaps0
config everything 80 hgcaps0

# run_with CONFIG CAPS...: restarts the unit with CONFIG and only CAPS; 0 when it started.
run_with() {
  local name=$1
  shift
  systemctl stop hotgate.service
  cat >"$DROPIN" <<EOF
[Service]
ExecStart=
ExecStart=/usr/sbin/hotgate --config $WORK/$name.yaml
AmbientCapabilities=
AmbientCapabilities=$*
CapabilityBoundingSet=
CapabilityBoundingSet=$*
NetworkNamespacePath=/run/netns/$NETNS
Restart=no
EOF
  systemctl daemon-reload
  systemctl reset-failed hotgate.service 2>/dev/null || true  # and its start rate limit
  cursor=$(journalctl -q -n 0 --show-cursor | sed -n 's/^-- cursor: //p')
  timeout 60 systemctl start hotgate.service 2>/dev/null
}
journal() { journalctl --no-pager -o cat -u hotgate.service --after-cursor "$cursor" 2>/dev/null; }
# logged PATTERN: the first line since the start that matches (journald takes the lines in a
# moment after hotgate wrote them); none within 5 s: status 1.
logged() {
  local line
  for _ in $(seq 50); do
    line=$(journal | grep -m 1 -E -- "$1") && { echo "$line"; return 0; }
    sleep 0.1
  done
  return 1
}
warnings() { journal | grep -E '(^| )(warn|error) ' | head -n 3; }
mode() { in_ns gwctl -o json status 2>/dev/null | sed -n 's/.*"mode": *"\([a-z]*\)".*/\1/p' | head -n 1; }
answers() { [[ $(in_ns curl -fsS "http://127.0.0.1:$1/" 2>/dev/null) == "hello from hotgate" ]]; }
health_available() { in_ns curl -fsS http://127.0.0.1:9901/metrics 2>/dev/null | grep '^hotgate_health_info{' | grep -o 'available="[a-z]*"'; }
without() { local c; for c in "${granted[@]}"; do [[ $c == "$1" ]] || echo "$c"; done; }

# All of them: BPF mode, the health profile, the XDP front and a listener on port 80.
if run_with everything "${granted[@]}"; then
  [[ $(mode) == bpf ]] || fail "with every capability: mode '$(mode)', not bpf"
  [[ $(health_available) == 'available="true"' ]] || fail "with every capability: health profile $(health_available)"
  answers 80 || fail "with every capability: no answer on port 80"
  logged "XDP front attached" >/dev/null || fail "with every capability: no XDP front"
else
  fail "hotgate did not start with every capability: $(warnings)"
fi
echo "[caps] with all of ${granted[*]}: bpf, health profile, XDP front, port 80"

for cap in "${granted[@]}"; do
  mapfile -t rest < <(without "$cap")
  why=""
  case $cap in
    CAP_BPF | CAP_DAC_READ_SEARCH)
      if run_with plain "${rest[@]}"; then
        [[ $(mode) == takeover ]] || fail "without $cap: mode '$(mode)', not takeover"
        answers 8080 || fail "without $cap: no answer in takeover mode"
        why=$(logged "BPF steering (unavailable|failed)") || fail "without $cap: the log does not say why BPF is off: $(warnings)"
      else
        fail "without $cap: hotgate did not start (it should fall back to takeover): $(warnings)"
      fi
      echo "[caps] without $cap: takeover mode (${why#* warn })" ;;
    CAP_PERFMON)
      # Linux 6.1 also refuses the steering program then (takeover mode); 6.18 loads it.
      if run_with plain "${rest[@]}"; then
        [[ $(health_available) == 'available="false"' ]] || fail "without $cap: health profile $(health_available), not unavailable"
        why=$(logged "health profile unavailable|BPF steering (unavailable|failed)") ||
          fail "without $cap: the log does not say why there is no health profile: $(warnings)"
      else
        fail "without $cap: hotgate did not start: $(warnings)"
      fi
      echo "[caps] without $cap: no health profile, $(mode) mode (${why#* warn })" ;;
    CAP_NET_BIND_SERVICE)
      run_with low-port "${rest[@]}" && fail "without $cap: hotgate started with a listener on port 80"
      why=$(logged "cannot start: .*Permission denied") || fail "without $cap: the log does not say the bind was refused: $(warnings)"
      echo "[caps] without $cap: no start on port 80 (${why#*cannot start: })" ;;
    CAP_NET_ADMIN)
      run_with xdp "${rest[@]}" && fail "without $cap: hotgate started with an XDP front"
      why=$(logged "cannot start: .*XDP front") || fail "without $cap: the log does not name the XDP front: $(warnings)"
      echo "[caps] without $cap: no start with the XDP front (${why#*cannot start: })" ;;
    *)
      fail "the unit grants $cap, and this test does not know what for: add its check" ;;
  esac
done

systemctl stop hotgate.service
rm -f "$DROPIN"
rmdir "$DROPIN_DIR" 2>/dev/null || true
systemctl daemon-reload
systemctl reset-failed hotgate.service 2>/dev/null || true
ip netns del "$NETNS"
rm -rf "$WORK"
timeout 60 systemctl start hotgate.service || fail "the packaged unit did not start again after the capability runs"
if ((failures)); then
  echo "capabilities: $failures failure(s)"
  exit 1
fi
echo "capabilities: each of ${granted[*]} is needed"
