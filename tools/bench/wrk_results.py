"""What the bench summaries share: reading results.jsonl (one wrk run a line) and the numbers
of one run. Each line: {..., "rep": N, "cpu_s": S, "wrk": {WRKJSON}}."""
import json
from collections import defaultdict


def rps(w):
    """Requests per second of one wrk run."""
    return w["requests"] / (w["duration_us"] / 1e6) if w["duration_us"] else 0.0


def errors(w):
    """Failed requests of one run: connect + read + write + timeout + non-2xx/3xx."""
    return w["connect"] + w["read"] + w["write"] + w["timeout"] + w["status"]


def load_groups(path, key):
    """Runs grouped by key(line): {key: [(rep, wrk dict with "cpu_s" added), ...]}."""
    groups = defaultdict(list)
    with open(path) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                w = dict(r["wrk"])
                w["cpu_s"] = r.get("cpu_s")
                groups[key(r)].append((r["rep"], w))
    return groups


def read_meta(path):
    """A bench's meta.txt ("key: value" lines) as a dict."""
    with open(path) as f:
        return dict(l.rstrip("\n").split(": ", 1) for l in f if ": " in l)


def summary_start(meta_path, tools):
    """The meta.txt at `meta_path` (read_meta's dict; empty without one) and a summary's opening
    lines from it: when, where and with what it was measured, `tools` naming the meta keys of
    the peers' and load tool's versions, then the command and an empty line."""
    if not meta_path:
        return {}, []
    meta = read_meta(meta_path)
    g = lambda key: meta.get(key, "?")
    return meta, ["Measured %s on %s, %s CPUs (Debian %s), load average %s before / %s after; %s; hotgate %s." % (
                g("date"), g("kernel"), g("cpu"), g("debian"), g("load_before"), g("load_after"),
                ", ".join(g(t) for t in tools), g("hotgate")),
            "Command: `%s`" % g("command"), ""]
