#!/usr/bin/env python3
"""Markdown tables for tools/bench/reload: reload.jsonl (run_reload.sh) and cutover.jsonl (cutover.py).

Usage: summarize_reload.py reload.jsonl [cutover.jsonl]
Headline table in the shape of shared/peers' README (medians over reps, every rep listed when
there are several). Failures = wrk connect + read + write + timeout errors + non-2xx/3xx; rate =
failures / (requests + connect + read + write). connrate failures are timed against the reloads.
"""
import json, statistics, sys
from collections import Counter, defaultdict

LABELS = {
    ("hotgate", "none"): "hotgate, no reload",
    ("hotgate", "bpf"): "hotgate BPF steering (`gwctl upgrade --auto-commit 0s`, A/B binary)",
    ("hotgate", "takeover"): "hotgate takeover (`gwctl upgrade --auto-commit 0s`, A/B binary)",
    ("nginx", "none"): "nginx, no reload",
    ("nginx", "hup"): "nginx `-s reload`",
    ("nginx", "upgrade"): "nginx binary upgrade",
    ("haproxy", "none"): "haproxy, no reload",
    ("haproxy", "sf"): "haproxy `-sf` without `-x`",
    ("haproxy", "x"): "haproxy `-x stats.sock -sf`",
    ("haproxy", "usr2"): "haproxy master-worker USR2",
}
ORDER = list(LABELS)


def load(path):
    try:
        return [json.loads(l) for l in open(path) if l.strip()]
    except FileNotFoundError:
        return []


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def wrk_fail(w):
    f = w["connect"] + w["read"] + w["write"] + w["timeout"] + w["status"]
    att = w["requests"] + w["connect"] + w["read"] + w["write"]
    return f, (f / att if att else None)


def fmt_pct(x):
    return "–" if x is None else ("0" if x == 0 else "%.4f%%" % (100 * x))


def with_reps(vals, fmt="%d"):
    m = med(vals)
    if m is None:
        return "–"
    s = fmt % m
    return s if len(vals) == 1 else "%s (%s)" % (s, "/".join(fmt % v for v in vals))


def label(t, m):
    return LABELS.get((t, m), "%s `%s`" % (t, m))


def fail_timing(r):
    """connrate failures -> [(reload number, ms after that reload started, kind)]."""
    p = r.get("py")
    if not p or not p.get("fail_times") or "t0_epoch" not in p:
        return []
    rel = r.get("reload_times") or []
    out = []
    for t_rel, kind in p["fail_times"]:
        t = p["t0_epoch"] + t_rel - r["start_epoch"]          # seconds since the run (and wrk) started
        prev = [(i + 1, tr) for i, (tr, _, _) in enumerate(rel) if tr <= t]
        if prev:
            n, tr = prev[-1]
            out.append((n, (t - tr) * 1e3, kind))
        else:
            out.append((0, t * 1e3, kind))
    return out


def main():
    reload_ = load(sys.argv[1])
    cut = load(sys.argv[2]) if len(sys.argv) > 2 else []
    out = []
    g = defaultdict(list)
    for r in reload_:
        if "wrk" in r:
            g[(r["target"], r["mode"], r["conn"])].append(r)
    if g:
        nreps = max(len(v) for v in g.values())
        py_rate = next((r["py"]["rate"] for v in g.values() for r in v if "py" in r), 500)
        py_att = next((r["py"]["attempts"] for v in g.values() for r in v if "py" in r), None)
        dur = med([r["wrk"]["duration_us"] / 1e6 for v in g.values() for r in v])
        nrel = med([r["reloads"] for v in g.values() for r in v if r["mode"] != "none"])
        out.append("### Reload under load: wrk -t1 -c50 -d%.0fs, a reload every 2 s (%s reloads)%s\n"
                   % (dur, "–" if nrel is None else "%d" % nrel, "" if nreps == 1 else ", median of %d reps" % nreps))
        out.append("| scenario | conn | wrk requests | wrk failures | wrk failure rate | wrk p99 ms | "
                   "connrate %.0f/s: failures of %s | reloads ok |" % (py_rate, py_att or "N"))
        out.append("|---|---|---:|---:|---:|---:|---|---:|")
        key = lambda k: (k[2] != "close", ORDER.index((k[0], k[1])) if (k[0], k[1]) in ORDER else 99, k)
        for k in sorted(g, key=key):
            rs = g[k]
            t, m, c = k
            fails = [wrk_fail(r["wrk"])[0] for r in rs]
            pys = [r["py"]["failures"] for r in rs if "py" in r]
            kinds = Counter()
            for r in rs:
                if "py" in r:
                    kinds.update({kk: v for kk, v in r["py"]["detail"].items()})
            py_cell = "–" if not pys else with_reps(pys) + (
                " (%s)" % ", ".join("%s %d" % kv for kv in sorted(kinds.items())) if kinds else "")
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                label(t, m), "keep-alive" if c == "ka" else "close",
                with_reps([r["wrk"]["requests"] for r in rs]), with_reps(fails),
                fmt_pct(med([wrk_fail(r["wrk"])[1] for r in rs])),
                with_reps([r["wrk"]["p99_us"] / 1000.0 for r in rs], "%.2f"), py_cell,
                "–" if m == "none" else "%d/%d" % (sum(r["reloads_ok"] for r in rs), sum(r["reloads"] for r in rs))))
        out.append("")
        # Where the failures came from.
        notes = []
        for k in sorted(g, key=key):
            for r in g[k]:
                w = r["wrk"]
                br = ", ".join("%s %d" % (n, w[n]) for n in ("connect", "read", "write", "timeout", "status") if w[n])
                bad = [(i + 1, tr, rc) for i, (tr, rc, _) in enumerate(r.get("reload_times") or []) if rc != 0]
                timing = fail_timing(r)
                if not (br or bad or timing or r.get("post_status") != "200"):
                    continue
                s = "- %s, %s, rep %d:" % (label(k[0], k[1]), "keep-alive" if k[2] == "ka" else "close", r["rep"])
                if br:
                    s += " wrk %s." % br
                if timing:
                    by = Counter(n for n, _, _ in timing)
                    s += " connrate failures by reload (#n: count, ms after that reload started): %s." % "; ".join(
                        "#%d: %d (%s)" % (n, by[n], ", ".join("%.0f %s" % (ms, kd) for nn, ms, kd in timing if nn == n))
                        for n in sorted(by))
                if bad:
                    s += " failed reloads (#n at t s, rc): %s." % ", ".join("#%d %.1f rc %d" % b for b in bad)
                if r.get("post_status") != "200":
                    s += " after the last reload GET / answered %s." % r.get("post_status")
                notes.append(s)
        if notes:
            out.append("Failures in detail (wrk only gives totals; connrate.py times each failure):\n")
            out += notes
            out.append("")
        rms = defaultdict(list)
        for k, rs in g.items():
            for r in rs:
                rms[(k[0], k[1])] += [x[2] for x in r.get("reload_times") or []]
        out.append("Time for the reload command to return, median (max) ms: " + "; ".join(
            "%s %.0f (%.0f)" % (label(*k).split(" (")[0], med(v), max(v)) for k, v in sorted(
                rms.items(), key=lambda kv: ORDER.index(kv[0]) if kv[0] in ORDER else 99) if v) + ".\n")
    if cut:
        out.append("### hotgate cutover latency and memory during drain\n")
        out.append("Cutover latency: from launching `gwctl cutover` (after `gwctl upgrade` without auto-commit) to "
                   "the first response from the new version, polling GET / on a new connection every 1 ms. Memory: "
                   "VmRSS of old + new version, sampled every 5 ms from `gwctl commit` until the old one exited.\n")
        cg = defaultdict(list)
        for c in cut:
            cg[(c["mode"], c["load"])].append(c)
        for (mode, ld) in sorted(cg, key=lambda k: (k[0] != "bpf", k[1] != "idle")):
            cs = cg[(mode, ld)]
            lat = [c.get("cutover_ms") for c in cs]
            ok = [x for x in lat if x is not None]
            peak = [c["rss_kb_sum_max"] for c in cs if "rss_kb_sum_max" in c]
            single = [c["rss_kb_old_before"] for c in cs if c.get("rss_kb_old_before")]
            drain = [c["drain_ms"] for c in cs if c.get("drain_ms") is not None]
            errs = sum(c["poll_errors"] for c in cs)
            line = "- hotgate %s, %s: cutover latency median %s ms (each: %s)" % (
                "BPF" if mode == "bpf" else mode, "idle" if ld == "idle" else "under wrk -t1 -c50 keep-alive load",
                "–" if not ok else "%.1f" % med(ok), " / ".join("–" if x is None else "%.1f" % x for x in lat))
            ex = [c.get("gwctl_cutover_exit_ms") for c in cs if c.get("gwctl_cutover_exit_ms") is not None]
            if ex:
                line += ", `gwctl cutover` itself exited after %s ms" % " / ".join("%.1f" % x for x in ex)
            wr = [c.get("write_us") for c in cs if c.get("write_us") is not None]
            if wr and mode == "bpf":
                line += ", control entry written in %s µs" % "/".join(map(str, wr))
            if peak:
                line += "; old+new VmRSS during drain: peak %.1f MiB (each: %s; one version alone before the " \
                        "upgrade: %.1f MiB)" % (med(peak) / 1024, " / ".join("%.1f" % (x / 1024) for x in peak),
                                                med(single) / 1024 if single else 0)
            if drain:
                line += "; old version exited %s ms after commit" % " / ".join("%.0f" % x for x in drain)
            if errs:
                line += "; %d failed poll requests (%s)" % (errs, dict(sum((Counter(c["poll_error_kinds"]) for c in cs), Counter())))
            if any(c.get("old_answered_after_first_new") for c in cs):
                line += "; the old version still answered a new connection after the first new-version response"
            if any(c.get("cutover_rc") or c.get("commit_rc") for c in cs):
                line += "; gwctl cutover/commit failed: %s" % [(c.get("cutover_output"), c.get("commit_output"))
                                                               for c in cs if c.get("cutover_rc") or c.get("commit_rc")]
            out.append(line + ".")
        out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
