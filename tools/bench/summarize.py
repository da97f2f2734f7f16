#!/usr/bin/env python3
"""Turn tools/bench/throughput's results.jsonl into Markdown tables (medians over reps).

Usage: summarize.py [--meta meta.txt] results.jsonl

Each line of results.jsonl: {"target": T, "conn": "ka"|"close", "rep": N, "cpu_s": S, "wrk": {WRKJSON}}.
req/s = requests / duration; p50/p99 are wrk's latency percentiles (successful requests only),
each the median over reps. Errors = connect + read + write + timeout + non-2xx/3xx (per rep).
CPU s/100k = the server processes' utime + stime over the run per 100,000 requests (median).
With a -2w target and its 1-worker counterpart, a last table gives 2 workers / 1 worker for req/s
and CPU per request.
"""
import argparse
import statistics

from wrk_results import errors, load_groups, rps, summary_start

LABELS = {
    "upstream": "upstream (direct)",
    "hotgate": "hotgate",
    "hotgate-2w": "hotgate, 2 workers",
    "hotgate-base": "hotgate (baseline)",
    "nginx": "NGINX",
    "nginx-2w": "NGINX, 2 workers",
    "haproxy": "HAProxy (`http-reuse always`)",
    "haproxy-safe": "HAProxy (`http-reuse safe`)",
}
ORDER = ["upstream", "hotgate", "hotgate-2w", "hotgate-base", "nginx", "nginx-2w", "haproxy", "haproxy-safe"]
# 2-worker target -> (its 1-worker counterpart, column name), for the 2 workers / 1 worker table.
TWO_WORKERS = {"hotgate-2w": ("hotgate", "hotgate"), "nginx-2w": ("nginx", "NGINX")}
CONN = {"ka": "keep-alive", "close": "close"}



def ms(us):
    return "%.2f" % (us / 1000.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--meta")
    ap.add_argument("results")
    args = ap.parse_args()

    groups = load_groups(args.results, lambda r: (r["target"], r["conn"]))
    if not groups:
        print("no results")
        return 1

    meta, out = summary_start(args.meta, ["nginx", "haproxy", "wrk_version"])

    nreps = max(len(v) for v in groups.values())
    out.append("| target | connection | req/s median | req/s per rep | p50 ms | p99 ms | CPU s/100k req | errors per rep |")
    out.append("|---|---|---:|---|---:|---:|---:|---|")
    med = {}
    keys = sorted(groups, key=lambda k: (ORDER.index(k[0]) if k[0] in ORDER else 99, k[1] != "ka"))
    for t, c in keys:
        ws = [w for _, w in sorted(groups[(t, c)], key=lambda rw: rw[0])]
        r = [rps(w) for w in ws]
        p50 = statistics.median(w["p50_us"] for w in ws)
        p99 = statistics.median(w["p99_us"] for w in ws)
        cpus = [w["cpu_s"] * 1e5 / w["requests"] for w in ws if w.get("cpu_s") is not None and w["requests"]]
        cpu = statistics.median(cpus) if cpus else None
        med[(t, c)] = (statistics.median(r), p99, cpu)
        out.append("| %s | %s | %.0f | %s | %s | %s | %s | %s |" % (
            LABELS.get(t, t), CONN.get(c, c), statistics.median(r),
            " / ".join("%.0f" % x for x in r), ms(p50), ms(p99),
            "%.2f" % cpu if cpu is not None else "-",
            " / ".join(str(errors(w)) for w in ws)))
    out.append("")
    out.append("Median of %d reps, interleaved across targets; load: `%s`. "
               "p50/p99: median over reps of wrk's per-run percentiles." % (nreps, meta.get("wrk", "wrk")))

    peers = [p for p in ("hotgate-base", "nginx", "haproxy", "haproxy-safe") if any(k[0] == p for k in med)]
    if any(k[0] == "hotgate" for k in med) and peers:
        out.append("")
        cols = []
        for p in peers:
            name = {"hotgate-base": "baseline", "haproxy-safe": "HAProxy (safe)"}.get(p, LABELS[p].split(" ")[0])
            cols += ["req/s hotgate/%s" % name, "p99 hotgate/%s" % name, "CPU/req hotgate/%s" % name]
        out.append("| connection | " + " | ".join(cols) + " |")
        out.append("|---|" + "---:|" * len(cols))
        for c in ("ka", "close"):
            if ("hotgate", c) not in med:
                continue
            hr, hp, hc = med[("hotgate", c)]
            cells = []
            for p in peers:
                if (p, c) in med:
                    pr, pp, pc = med[(p, c)]
                    cells += ["%.2f" % (hr / pr) if pr else "-", "%.2f" % (hp / pp) if pp else "-",
                              "%.2f" % (hc / pc) if hc and pc else "-"]
                else:
                    cells += ["-", "-", "-"]
            out.append("| %s | %s |" % (CONN[c], " | ".join(cells)))
        out.append("")
        out.append("Ratios of medians. req/s: above 1 means hotgate serves more. "
                   "p99 and CPU per request: below 1 means hotgate's is lower.")

    # Only proxies measured with both 1 and 2 workers.
    scaled = [t2 for t2, (t1, _) in TWO_WORKERS.items()
              if any(k[0] == t2 for k in med) and any(k[0] == t1 for k in med)]
    if scaled:
        out.append("")
        cols = []
        for t2 in scaled:
            name = TWO_WORKERS[t2][1]
            cols += ["req/s %s 2w/1w" % name, "CPU/req %s 2w/1w" % name]
        out.append("| connection | " + " | ".join(cols) + " |")
        out.append("|---|" + "---:|" * len(cols))
        for c in ("ka", "close"):
            cells = []
            for t2 in scaled:
                t1 = TWO_WORKERS[t2][0]
                if (t2, c) in med and (t1, c) in med:
                    r2, _, c2 = med[(t2, c)]
                    r1, _, c1 = med[(t1, c)]
                    cells += ["%.2f" % (r2 / r1) if r1 else "-", "%.2f" % (c2 / c1) if c1 and c2 else "-"]
                else:
                    cells += ["-", "-"]
            out.append("| %s | %s |" % (CONN[c], " | ".join(cells)))
        ncpu = meta.get("cpu", "").split(" ")[0]
        out.append("")
        out.append("Ratios of medians, 2 workers / 1 worker of the same proxy. req/s: above 1 means the "
                   "second worker helps. CPU per request: above 1 means each request costs more CPU "
                   "with 2 workers. wrk, the upstream and the proxy share this machine's %sCPUs, so this "
                   "shows how far a second worker helps here, not linear scaling." %
                   (ncpu + " " if ncpu.isdigit() else ""))
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
