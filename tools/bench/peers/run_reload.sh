#!/usr/bin/env bash
# One "reload under load" run. Adapted from shared/peers/run_reload.sh: same load and cadence;
# paths point into tools/bench/peers; the target gets MODE as `start MODE` (hotgate picks its data
# plane from it, the others ignore it); the record also holds the run's wall-clock start.
# Usage: run_reload.sh TARGET MODE CONN REP
#   TARGET: a script targets/TARGET.sh (start|stop|port|reload MODE)
#   MODE:   a reload mode of that target, or "none" (control run, no reloads)
#   CONN:   ka (keep-alive) | close (Connection: close = new TCP connection per request)
# Runs wrk -t1 -c50 for DURATION (30 s) and triggers `targets/TARGET.sh reload MODE` every
# INTERVAL (2 s) starting at t=INTERVAL, i.e. 14 reloads in 30 s. For CONN=close it also runs
# connrate.py (PY_RATE new connections/s) concurrently for exact failure accounting.
# Appends one JSON line to $OUT_DIR/reload.jsonl; logs go to $OUT_DIR/reload-TAG.*. The target is
# started fresh and stopped after.
# Env: DURATION=30 INTERVAL=2 CONNS=50 PY_RATE=500 OUT_DIR=$RUN_DIR/results LABEL= (suffix for log names)
#      START_MODE= (argument for `start`; default MODE unless MODE is none)
set -u
cd "$(dirname "$0")" || exit 1
. targets/lib.sh
T=$1; MODE=$2; CONN=$3; REP=${4:-1}
DURATION=${DURATION:-30}; INTERVAL=${INTERVAL:-2}; CONNS=${CONNS:-50}; PY_RATE=${PY_RATE:-500}
OUT_DIR=${OUT_DIR:-$RUN_DIR/results}
OUT=$OUT_DIR/reload.jsonl
START_MODE=${START_MODE-$([ "$MODE" = none ] || echo "$MODE")}
mkdir -p "$OUT_DIR"
tag=$T-$MODE-$CONN-$REP${LABEL:+-$LABEL}
L=$OUT_DIR/reload-$tag
targets/upstream.sh start || exit 1
targets/$T.sh stop; targets/$T.sh start $START_MODE || { targets/$T.sh stop; exit 1; }
port=$(targets/$T.sh port)
hdr=(); [ "$CONN" = close ] && hdr=(-H 'Connection: close')
start=$(date +%s.%N)
timeout $((DURATION + 30)) wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency --timeout 2s "${hdr[@]}" \
    -s wrk_json.lua "http://127.0.0.1:$port/" > "$L.wrk.log" 2>&1 &
wrk_pid=$!
py_pid=
if [ "$CONN" = close ]; then
  timeout $((DURATION + 30)) python3 connrate.py --port "$port" --rate "$PY_RATE" \
      --duration "$DURATION" --timeout 5 > "$L.py.json" 2> "$L.py.log" &
  py_pid=$!
fi
: > "$L.reloads"
nrel=0; nok=0
if [ "$MODE" != none ]; then
  n=$(( (DURATION - 1) / INTERVAL ))        # 30 s / 2 s -> reloads at t=2,4,...,28 = 14
  for i in $(seq 1 "$n"); do
    due=$(echo "$start + $i * $INTERVAL" | bc)
    now=$(date +%s.%N); d=$(echo "$due - $now" | bc)
    case "$d" in -*|0) ;; *) sleep "$d" ;; esac
    t0=$(date +%s.%N)
    timeout 8 targets/$T.sh reload "$MODE" >> "$L.reload.out" 2>&1; rc=$?
    t1=$(date +%s.%N)
    nrel=$((nrel + 1)); [ $rc -eq 0 ] && nok=$((nok + 1))
    printf '%s %.3f %d %.1f\n' "$i" "$(echo "$t0 - $start" | bc)" "$rc" "$(echo "($t1 - $t0) * 1000" | bc)" >> "$L.reloads"
  done
fi
wait "$wrk_pid"
[ -n "$py_pid" ] && wait "$py_pid"
# post-check: still serving after the last reload?
post=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")
procs=$(targets/$T.sh pids 2>/dev/null)
targets/$T.sh stop
# keep this run's server logs (the next run of the target starts with fresh ones)
mkdir -p "$L.logs" && cp "$RUN_DIR/$T"/*.log "$RUN_DIR/$T"/*.out "$L.logs/" 2>/dev/null
python3 - "$T" "$MODE" "$CONN" "$REP" "$L" "$nrel" "$nok" "$post" "$procs" "$start" >> "$OUT" <<'PY'
import json, sys, statistics
T, MODE, CONN, REP, L, nrel, nok, post, procs, start = sys.argv[1:11]
rec = {"kind": "reload", "target": T, "mode": MODE, "conn": CONN, "rep": int(REP), "start_epoch": float(start),
       "log": L, "reloads": int(nrel), "reloads_ok": int(nok), "post_status": post, "procs_after": procs}
try:
    rows = [l.split() for l in open(L + ".reloads") if l.strip()]
    rec["reload_times"] = [[float(r[1]), int(r[2]), float(r[3])] for r in rows]   # t (s), rc, ms
    ms = [r[2] for r in rec["reload_times"]]
    rec["reload_ms_median"] = statistics.median(ms) if ms else None
except Exception:
    rec["reload_ms_median"] = None
for line in open(L + ".wrk.log", errors="replace"):
    if line.startswith("WRKJSON "):
        rec["wrk"] = json.loads(line.split(" ", 1)[1])
try:
    for line in open(L + ".py.json"):
        if line.startswith("PYJSON "):
            rec["py"] = json.loads(line.split(" ", 1)[1])
except FileNotFoundError:
    pass
print(json.dumps(rec))
PY
tail -n1 "$OUT" | python3 -c '
import json,sys; r=json.loads(sys.stdin.read()); w=r.get("wrk",{}); p=r.get("py")
print("reload %(target)s %(mode)s %(conn)s rep%(rep)d: reloads %(reloads_ok)d/%(reloads)d" % r,
      "| wrk req=%s conn=%s read=%s write=%s timeout=%s status=%s p99=%sus" % tuple(w.get(k) for k in ("requests","connect","read","write","timeout","status","p99_us")),
      ("| py %d/%d ok %s" % (p["ok"], p["attempts"], p["outcome"])) if p else "")'
