#!/usr/bin/env python3
"""h2load results for tools/bench/h2: one run's numbers, and the summary table.

Usage:
  h2load_log.py run H2LOAD_OUTPUT LOG_FILE    # one run -> one JSON object on stdout
  h2load_log.py summary [--meta meta.txt] results.jsonl

`run` reads h2load's printed report and its --log-file (tab-separated: start time in µs since
the epoch, HTTP status or -1 for a failed stream, µs until the end of the response; only the
measured phase, not the warm-up) and prints {"requests", "rps", "succeeded", "failed",
"errored", "timeout", "s2xx".."s5xx", "non2xx", "rows", "rows_failed", "p50_us", "p90_us",
"p99_us", "p999_us", "max_us", "mean_us"}. rps is h2load's "finished in ..., N req/s" (requests
done in the measured phase / -D). Percentiles are nearest-rank over the responses received
(status != -1), like wrk's, which cover completed requests only. A log file may be gzipped.

`summary` turns results.jsonl (one line a run: {"target", "rep", "cpu_s", "h2load": {...}}) into
Markdown tables like tools/bench/summarize.py: medians over reps, errors per rep, CPU s/100k
requests, and hotgate / peer ratios.
"""
import argparse
import gzip
import json
import re
import statistics
import sys
from collections import defaultdict

from wrk_results import summary_start

LABELS = {
    "hotgate": "hotgate",
    "hotgate-base": "hotgate (baseline)",
    "nginx": "NGINX",
}
ORDER = ["hotgate", "hotgate-base", "nginx"]


def percentile(sorted_vals, q):
    """Nearest-rank percentile q (0..100) of a sorted list."""
    if not sorted_vals:
        return 0
    k = max(0, min(len(sorted_vals) - 1, int(-(-q * len(sorted_vals) // 100)) - 1))
    return sorted_vals[k]


def parse_output(text):
    """The numbers of h2load's printed report."""
    r = {}
    m = re.search(r"^finished in ([\d.]+)(\w+), ([\d.]+) req/s", text, re.M)
    if m:
        r["rps"] = float(m.group(3))
    m = re.search(r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                  r"(\d+) errored, (\d+) timeout", text, re.M)
    if m:
        (r["total"], r["started"], r["requests"], r["succeeded"], r["failed"], r["errored"],
         r["timeout"]) = (int(x) for x in m.groups())
    m = re.search(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text, re.M)
    if m:
        r["s2xx"], r["s3xx"], r["s4xx"], r["s5xx"] = (int(x) for x in m.groups())
        r["non2xx"] = r["s3xx"] + r["s4xx"] + r["s5xx"]
    return r


def parse_log(path):
    opener = gzip.open if path.endswith(".gz") else open
    lat = []
    rows = failed = 0
    with opener(path, "rt") as f:
        for line in f:
            cols = line.split("\t")
            if len(cols) < 3:
                continue
            rows += 1
            if cols[1].strip() == "-1":
                failed += 1
                continue
            lat.append(int(cols[2]))
    lat.sort()
    r = {"rows": rows, "rows_failed": failed}
    for name, q in (("p50_us", 50), ("p90_us", 90), ("p99_us", 99), ("p999_us", 99.9)):
        r[name] = percentile(lat, q)
    r["max_us"] = lat[-1] if lat else 0
    r["mean_us"] = round(sum(lat) / len(lat), 1) if lat else 0
    return r


def cmd_run(args):
    with open(args.output, errors="replace") as f:
        r = parse_output(f.read())
    if "rps" not in r or "requests" not in r or "s2xx" not in r:
        print("h2load_log.py: no h2load report in %s" % args.output, file=sys.stderr)
        return 1
    r.update(parse_log(args.log))
    print(json.dumps(r, separators=(",", ":")))
    return 0


def errors(h):
    """Requests that failed (network errors, resets, timeouts, 4xx/5xx) or answered 3xx: every
    request that did not end in a 2xx (the upstream always answers 200)."""
    return h["failed"] + h["s3xx"]


def ms(us):
    return "%.2f" % (us / 1000.0)


def cmd_summary(args):
    groups = defaultdict(list)
    with open(args.results) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                h = dict(r["h2load"])
                h["cpu_s"] = r.get("cpu_s")
                groups[r["target"]].append((r["rep"], h))
    if not groups:
        print("no results")
        return 1

    meta, out = summary_start(args.meta, ["nginx", "h2load_version"])

    nreps = max(len(v) for v in groups.values())
    out.append("| target | protocol | req/s median | req/s per rep | p50 ms | p99 ms | CPU s/100k req | errors per rep |")
    out.append("|---|---|---:|---|---:|---:|---:|---|")
    med = {}
    for t in sorted(groups, key=lambda t: ORDER.index(t) if t in ORDER else 99):
        hs = [h for _, h in sorted(groups[t], key=lambda rh: rh[0])]
        r = [h["rps"] for h in hs]
        p50 = statistics.median(h["p50_us"] for h in hs)
        p99 = statistics.median(h["p99_us"] for h in hs)
        cpus = [h["cpu_s"] * 1e5 / h["requests"] for h in hs if h.get("cpu_s") is not None and h["requests"]]
        cpu = statistics.median(cpus) if cpus else None
        med[t] = (statistics.median(r), p99, cpu)
        out.append("| %s | h2c | %.0f | %s | %s | %s | %s | %s |" % (
            LABELS.get(t, t), statistics.median(r), " / ".join("%.0f" % x for x in r), ms(p50), ms(p99),
            "%.2f" % cpu if cpu is not None else "-", " / ".join(str(errors(h)) for h in hs)))
    out.append("")
    out.append("Median of %d reps, interleaved across targets; load: `%s`. p50/p99: median over reps of "
               "each run's percentile, from h2load's --log-file (responses received). Errors: failed "
               "requests (network errors, resets, timeouts, 4xx/5xx) + 3xx; should be 0. h2c: HTTP/2 "
               "without TLS, by prior knowledge; %s" % (
                   nreps, meta.get("h2load", "h2load"),
                   "both proxies speak h2c to the upstream (hotgate `protocol: h2`, NGINX `grpc_pass`)."
                   if meta.get("upstream") == "h2" else "both proxies speak HTTP/1.1 to the upstream."))

    peers = [p for p in ("hotgate-base", "nginx") if p in med]
    if "hotgate" in med and peers:
        out.append("")
        cols = []
        for p in peers:
            name = {"hotgate-base": "baseline", "nginx": "NGINX"}[p]
            cols += ["req/s hotgate/%s" % name, "p99 hotgate/%s" % name, "CPU/req hotgate/%s" % name]
        out.append("| protocol | " + " | ".join(cols) + " |")
        out.append("|---|" + "---:|" * len(cols))
        hr, hp, hc = med["hotgate"]
        cells = []
        for p in peers:
            pr, pp, pc = med[p]
            cells += ["%.2f" % (hr / pr) if pr else "-", "%.2f" % (hp / pp) if pp else "-",
                      "%.2f" % (hc / pc) if hc and pc else "-"]
        out.append("| h2c | %s |" % " | ".join(cells))
        out.append("")
        out.append("Ratios of medians. req/s: above 1 means hotgate serves more. "
                   "p99 and CPU per request: below 1 means hotgate's is lower.")
    print("\n".join(out))
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run")
    run.add_argument("output")
    run.add_argument("log")
    summ = sub.add_parser("summary")
    summ.add_argument("--meta")
    summ.add_argument("results")
    args = ap.parse_args()
    return cmd_run(args) if args.cmd == "run" else cmd_summary(args)


if __name__ == "__main__":
    raise SystemExit(main())
