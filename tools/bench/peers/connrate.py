#!/usr/bin/env python3
# Copied from shared/peers/tools/connrate.py; adds "t0_epoch" (wall clock at t_rel = 0) to the JSON.
"""Open-loop "new connection per request" client with exact failure accounting (stdlib only).

Opens RATE new TCP connections per second for DURATION seconds (bounded: at most RATE*DURATION
attempts, and never more than --max-inflight at once). Each connection sends one
"GET PATH HTTP/1.1 / Connection: close" request and reads the full response.

Outcome of every attempt is exactly one of:
  ok          2xx with complete body (Content-Length honoured)
  non2xx      complete response with a non-2xx status
  refused     ECONNREFUSED on connect
  reset       ECONNRESET / EPIPE (phase recorded: connect, write, read)
  short_read  peer closed before a complete response (0 bytes, partial headers or partial body)
  timeout     no complete response within --timeout (phase recorded)
  other       anything else (errno name recorded)
  skipped     not attempted because --max-inflight was reached (client overload, not a server failure)
Prints a human summary to stderr and one JSON line ("PYJSON {...}") to stdout.
"""
import argparse, asyncio, errno, json, socket, sys, time
from collections import Counter


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


class Stats:
    def __init__(self):
        self.outcome = Counter()
        self.detail = Counter()
        self.lat_ok = []
        self.fail_times = []          # (t_rel, kind) for the first N failures
        self.inflight = 0
        self.max_inflight_seen = 0


async def one(host, port, path, timeout, st, t_rel, t0):
    phase = "connect"
    start = time.perf_counter()
    writer = None
    try:
        async def run():
            nonlocal phase, writer
            reader, writer = await asyncio.open_connection(host, port)
            phase = "write"
            writer.write(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: connrate\r\n"
                          "Connection: close\r\n\r\n" % (path, host, port)).encode())
            await writer.drain()
            phase = "read"
            data = await reader.read(-1)       # until EOF: server closes after the response
            return data
        data = await asyncio.wait_for(run(), timeout)
        head, sep, body = data.partition(b"\r\n\r\n")
        if not data:
            return "short_read", "0_bytes"
        if not sep:
            return "short_read", "partial_headers"
        lines = head.split(b"\r\n")
        try:
            status = int(lines[0].split()[1])
        except Exception:
            return "other", "bad_status_line"
        clen = None
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            if k.strip().lower() == b"content-length":
                clen = int(v.strip())
        if clen is not None and len(body) < clen:
            return "short_read", "partial_body"
        if 200 <= status < 300:
            st.lat_ok.append(time.perf_counter() - start)
            return "ok", None
        return "non2xx", str(status)
    except asyncio.TimeoutError:
        return "timeout", phase
    except ConnectionRefusedError:
        return "refused", phase
    except (ConnectionResetError, BrokenPipeError) as e:
        return "reset", phase + ":" + errno.errorcode.get(e.errno or 0, type(e).__name__)
    except asyncio.IncompleteReadError:
        return "short_read", "incomplete"
    except OSError as e:
        return "other", phase + ":" + errno.errorcode.get(e.errno or 0, type(e).__name__)
    finally:
        if writer is not None:
            writer.close()


async def main(a):
    st = Stats()
    loop = asyncio.get_running_loop()
    total = int(a.rate * a.duration)
    interval = 1.0 / a.rate
    t0 = time.perf_counter()
    t0_epoch = time.time()
    tasks = set()
    max_lag = 0.0

    async def wrapped(t_rel):
        st.inflight += 1
        st.max_inflight_seen = max(st.max_inflight_seen, st.inflight)
        try:
            kind, det = await one(a.host, a.port, a.path, a.timeout, st, t_rel, t0)
        finally:
            st.inflight -= 1
        st.outcome[kind] += 1
        if det:
            st.detail["%s:%s" % (kind, det)] += 1
        if kind != "ok" and len(st.fail_times) < 2000:
            st.fail_times.append((round(t_rel, 3), kind if not det else "%s:%s" % (kind, det)))

    for i in range(total):
        due = t0 + i * interval
        now = time.perf_counter()
        if due > now:
            await asyncio.sleep(due - now)
        else:
            max_lag = max(max_lag, now - due)
        if st.inflight >= a.max_inflight:
            st.outcome["skipped"] += 1
            continue
        t = asyncio.ensure_future(wrapped(time.perf_counter() - t0))
        tasks.add(t)
        t.add_done_callback(tasks.discard)
        if time.perf_counter() - t0 > a.duration + 5:   # hard stop even if badly behind schedule
            break
    if tasks:
        await asyncio.wait(tasks, timeout=a.timeout + 2)
    elapsed = time.perf_counter() - t0
    lat = sorted(st.lat_ok)
    attempts = sum(v for k, v in st.outcome.items() if k != "skipped")
    failures = attempts - st.outcome["ok"]
    res = {
        "target": "%s:%d" % (a.host, a.port), "rate": a.rate, "duration_s": a.duration,
        "elapsed_s": round(elapsed, 3), "t0_epoch": t0_epoch, "attempts": attempts, "ok": st.outcome["ok"],
        "failures": failures, "failure_rate": (failures / attempts) if attempts else None,
        "outcome": dict(st.outcome), "detail": dict(st.detail),
        "p50_ms": round(pct(lat, 50) * 1e3, 3) if lat else None,
        "p99_ms": round(pct(lat, 99) * 1e3, 3) if lat else None,
        "max_ms": round(lat[-1] * 1e3, 3) if lat else None,
        "max_schedule_lag_ms": round(max_lag * 1e3, 1), "max_inflight_seen": st.max_inflight_seen,
        "fail_times": st.fail_times[:200],
    }
    print("connrate %s: attempts=%d ok=%d failures=%d %s p50=%sms p99=%sms lag<=%sms"
          % (res["target"], attempts, res["ok"], failures, dict(st.outcome), res["p50_ms"],
             res["p99_ms"], res["max_schedule_lag_ms"]), file=sys.stderr)
    print("PYJSON " + json.dumps(res), flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", default="/")
    p.add_argument("--rate", type=float, default=500, help="new connections per second")
    p.add_argument("--duration", type=float, default=30, help="seconds (max 600)")
    p.add_argument("--timeout", type=float, default=5, help="per-request timeout, seconds")
    p.add_argument("--max-inflight", type=int, default=2000)
    a = p.parse_args()
    if a.host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("refusing non-loopback host")
    if not (0 < a.duration <= 600 and 0 < a.rate <= 20000):
        sys.exit("duration must be in (0,600], rate in (0,20000]")
    asyncio.run(main(a))
