#!/usr/bin/env python3
"""Turn tools/bench/lb's overhead results.jsonl into Markdown tables (medians over reps).

Usage: summarize_lb.py [--meta meta.txt] results.jsonl

Each line: {"policy": P, "rep": N, "cpu_s": S, "wrk": {WRKJSON}}. req/s = requests / duration;
p50/p99: median over reps of wrk's percentiles; CPU s/100k: hotgate's utime + stime over the run
per 100,000 requests (median). Errors = connect + read + write + timeout + non-2xx/3xx (per rep).
A second table gives each policy's medians over round_robin's.
"""
import argparse
import statistics

from wrk_results import errors, load_groups, rps, summary_start

ORDER = ["round_robin", "least_request", "ring_hash", "maglev"]



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--meta")
    ap.add_argument("results")
    args = ap.parse_args()

    groups = load_groups(args.results, lambda r: r["policy"])
    if not groups:
        print("no results")
        return 1

    meta, out = summary_start(args.meta, ["nginx", "wrk_version"])

    out.append("| policy | req/s median | req/s per rep | p50 ms | p99 ms | CPU s/100k req | errors per rep |")
    out.append("|---|---:|---|---:|---:|---:|---|")
    med = {}
    for p in sorted(groups, key=lambda p: ORDER.index(p) if p in ORDER else 99):
        ws = [w for _, w in sorted(groups[p], key=lambda rw: rw[0])]
        r = [rps(w) for w in ws]
        p50 = statistics.median(w["p50_us"] for w in ws)
        p99 = statistics.median(w["p99_us"] for w in ws)
        cpus = [w["cpu_s"] * 1e5 / w["requests"] for w in ws if w.get("cpu_s") is not None and w["requests"]]
        cpu = statistics.median(cpus) if cpus else None
        med[p] = (statistics.median(r), p99, cpu)
        out.append("| %s | %.0f | %s | %.2f | %.2f | %s | %s |" % (
            p, statistics.median(r), " / ".join("%.0f" % x for x in r), p50 / 1000.0, p99 / 1000.0,
            "%.3f" % cpu if cpu is not None else "-", " / ".join(str(errors(w)) for w in ws)))
    out.append("")
    out.append("Median of %d reps, interleaved across policies; load: `%s`." %
               (max(len(v) for v in groups.values()), meta.get("wrk", "wrk")))

    if "round_robin" in med:
        br, bp, bc = med["round_robin"]
        out.append("")
        out.append("| policy | req/s / round_robin | p99 / round_robin | CPU per request / round_robin |")
        out.append("|---|---:|---:|---:|")
        for p, (r, p99, cpu) in med.items():
            if p == "round_robin":
                continue
            out.append("| %s | %s | %s | %s |" % (p, "%.3f" % (r / br) if br else "-",
                                                   "%.2f" % (p99 / bp) if bp else "-",
                                                   "%.3f" % (cpu / bc) if cpu and bc else "-"))
        out.append("")
        out.append("Ratios of medians. req/s: below 1 means the policy serves less. p99 and CPU per request: "
                   "above 1 means the policy costs more. CPU per request is the steadier number here.")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
