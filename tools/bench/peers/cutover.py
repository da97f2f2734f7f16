#!/usr/bin/env python3
"""Cutover latency and drain memory of one staged hotgate upgrade (tools/bench/reload).

Precondition: `gwctl upgrade` without --auto-commit has started a successor (NEW_PID) that is ready;
the running version (OLD_PID) still takes every new connection.
1. Learns the old version from one GET / (x-hotgate-version).
2. Runs `gwctl cutover` and, from the moment it is launched, sends GET / on a new connection every
   --interval-ms (1 ms) until a response carries another x-hotgate-version. Cutover latency = time
   from launching `gwctl cutover` to receiving that first new-version response. Polls on for
   --after-ms more to see whether the old version still answers new connections.
3. Runs `gwctl commit` and samples VmRSS (/proc/PID/status) of OLD_PID and NEW_PID every 5 ms until
   the old version has exited (bounded by --drain-timeout): the old+new sum while both are alive.
Prints one JSON line "CUTJSON {...}". Loopback only; every loop is bounded.
"""
import argparse, json, re, socket, subprocess, sys, time


def get_version(port, timeout):
    """One GET / on a new connection; returns (version or None, error or None)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nUser-Agent: cutover\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    return None, "short_read"
                data += chunk
    except OSError as e:
        return None, type(e).__name__
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    if " 200 " not in head[0] + " ":
        return None, "status:" + head[0]
    for line in head[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "x-hotgate-version":
            return v.strip(), None
    return None, "no_version_header"


def rss_kb(pid):
    """VmRSS of PID in kB, or None once it has exited (or is a zombie)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            st = f.read()
    except OSError:
        return None
    fields = dict(l.split(":", 1) for l in st.splitlines() if ":" in l)
    if fields.get("State", "").strip().startswith("Z") or "VmRSS" not in fields:
        return None
    return int(fields["VmRSS"].split()[0])


def main(a):
    gw = [a.gwctl, "--control", a.control]
    res = {"old_pid": a.old_pid, "new_pid": a.new_pid, "interval_ms": a.interval_ms}
    old_version, err = get_version(a.port, 2)
    if not old_version:
        sys.exit("cutover.py: GET / before cutover failed: %s" % err)
    res["old_version"] = old_version
    res["rss_kb_old_before"] = rss_kb(a.old_pid)
    res["rss_kb_new_ready"] = rss_kb(a.new_pid)

    # 2. cutover latency
    polls = errors = 0
    err_kinds = {}
    first_new = None
    last_old_after = None
    t_cmd = time.monotonic()
    proc = subprocess.Popen(gw + ["cutover"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = t_cmd + a.timeout
    stop_at = deadline
    t_exit = None      # when `gwctl cutover` was seen to have exited
    i = 0
    while time.monotonic() < stop_at:
        due = t_cmd + i * a.interval_ms / 1000.0
        i += 1
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        t_send = time.monotonic()
        version, err = get_version(a.port, 1)
        t_recv = time.monotonic()
        polls += 1
        if t_exit is None and proc.poll() is not None:
            t_exit = time.monotonic()
        if err:
            errors += 1
            err_kinds[err] = err_kinds.get(err, 0) + 1
            continue
        if version != old_version:
            if first_new is None:
                first_new = (t_send, t_recv, version)
                stop_at = min(deadline, t_recv + a.after_ms / 1000.0)
        elif first_new is not None:
            last_old_after = t_recv
    out, _ = proc.communicate(timeout=10)
    res["gwctl_cutover_exit_ms"] = round(((t_exit or time.monotonic()) - t_cmd) * 1e3, 3)
    res.update({"cutover_rc": proc.returncode, "cutover_output": out.strip(), "polls": polls,
                "poll_errors": errors, "poll_error_kinds": err_kinds})
    m = re.search(r"written in (\d+) us", out)
    if m:
        res["write_us"] = int(m.group(1))
    if first_new is None:
        res["cutover_ms"] = None
    else:
        res["new_version"] = first_new[2]
        res["cutover_ms"] = round((first_new[1] - t_cmd) * 1e3, 3)
        res["cutover_send_ms"] = round((first_new[0] - t_cmd) * 1e3, 3)
        res["old_answered_after_first_new"] = last_old_after is not None
    res["rss_kb_old_cutover"] = rss_kb(a.old_pid)
    res["rss_kb_new_cutover"] = rss_kb(a.new_pid)

    # 3. commit, then RSS of old + new until the old version is gone
    t_commit = time.monotonic()
    proc = subprocess.Popen(gw + ["commit"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    samples = []
    while time.monotonic() - t_commit < a.drain_timeout:
        o, n = rss_kb(a.old_pid), rss_kb(a.new_pid)
        if o is None:
            break
        samples.append((round((time.monotonic() - t_commit) * 1e3, 1), o, n or 0))
        time.sleep(0.005)
    gone = rss_kb(a.old_pid) is None
    out, _ = proc.communicate(timeout=10)
    res.update({"commit_rc": proc.returncode, "commit_output": out.strip(),
                "old_exited": gone, "drain_ms": round((time.monotonic() - t_commit) * 1e3, 1) if gone else None,
                "drain_samples": len(samples)})
    if samples:
        peak = max(samples, key=lambda s: s[1] + s[2])
        res.update({"rss_kb_sum_max": peak[1] + peak[2], "rss_kb_old_at_max": peak[1], "rss_kb_new_at_max": peak[2],
                    "rss_kb_sum_at_commit": samples[0][1] + samples[0][2]})
    res["rss_kb_new_after"] = rss_kb(a.new_pid)
    print("CUTJSON " + json.dumps(res), flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--gwctl", required=True)
    p.add_argument("--control", required=True)
    p.add_argument("--old-pid", type=int, required=True)
    p.add_argument("--new-pid", type=int, required=True)
    p.add_argument("--interval-ms", type=float, default=1.0)
    p.add_argument("--after-ms", type=float, default=100.0)
    p.add_argument("--timeout", type=float, default=5.0, help="give up on the cutover after this many seconds")
    p.add_argument("--drain-timeout", type=float, default=20.0)
    main(p.parse_args())
