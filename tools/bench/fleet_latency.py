#!/usr/bin/python3
"""The measuring half of tools/bench/fleet: etcd's JSON gateway from Python's standard library.

Usage:
  fleet_latency.py ports N                              # N free 127.0.0.1 TCP ports, one a line
  fleet_latency.py put --etcd URL --key K --file F      # put F's text at K, print the revision
  fleet_latency.py run --etcd URL --prefix P --hosts h1,h2 --http-ports 1,2 --template F
                       [--puts 50] [--start-timeout 30] [--put-timeout 10] [--deadline 120]
                       [--out DIR]

`run` watches <prefix>/hosts/ (POST /v3/watch, one JSON object a line) from the revision it
read the hosts' status keys at, waits until every host reports `serving` at the mod_revision of
<prefix>/config, then --puts times puts to <prefix>/config (POST /v3/kv/put) the template with
@BODY@ replaced by "v1" .. "vN", each once every host reports `serving` at the one before. For
each put and host it takes the time from the put's reply (header.revision: R) to the watch
events of the host's status key with a "revision" of R or more and
  applied: "state" `serving` or `verifying` (the latter in builds with the health verdict,
           while the config engine's verification window runs), the first of them;
  serving: "state" `serving`.
At the end every host's listener must answer GET /fleet with the last body. Prints the summary;
writes samples.jsonl (one line a put and host: put, revision, host, applied_ms, serving_ms,
put_reply_ms, put_reply_unix) and summary.txt to --out. Exits 1 when a host refused or rolled
back a document, was not serving it within --put-timeout, or answered another body.
"""
import argparse
import base64
import http.client
import json
import math
import os
import socket
import sys
import threading
import time
import urllib.parse

# Host states (docs/fleet.md, "Host status"). A build with the health verdict reports
# `verifying` at the new revision while the config engine's verification window runs, and
# `serving` after the verdict; an older one reports `serving` once applied.
SERVING = ("serving",)
APPLIED = ("serving", "verifying")
UNDONE = ("refused", "rolled_back")


def b64(text):
    return base64.b64encode(text.encode()).decode()


def unb64(text):
    return base64.b64decode(text).decode(errors="replace")


def prefix_end(prefix):
    """etcd's range_end for every key that starts with `prefix`."""
    raw = prefix.encode()
    return (raw[:-1] + bytes([raw[-1] + 1])).decode()


def percentile(values, q):
    """Nearest-rank percentile q (0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered) / 100) - 1))]


class Etcd:
    """Unary calls to one member's JSON gateway on a keep-alive connection."""

    def __init__(self, url, timeout=5.0):
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port, self.timeout = parsed.hostname, parsed.port, timeout
        self.conn = None

    def call(self, path, body):
        for attempt in (1, 2):  # once more on a fresh connection if the kept one was closed
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
                response = self.conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                continue
            if response.status != 200:
                raise RuntimeError(f"etcd {path}: HTTP {response.status}: {data[:300]!r}")
            return json.loads(data)

    def put(self, key, value):
        return int(self.call("/v3/kv/put", {"key": b64(key), "value": b64(value)})["header"]["revision"])

    def range_prefix(self, prefix):
        reply = self.call("/v3/kv/range", {"key": b64(prefix), "range_end": b64(prefix_end(prefix))})
        return int(reply["header"]["revision"]), reply.get("kvs", [])

    def get(self, key):
        reply = self.call("/v3/kv/range", {"key": b64(key)})
        kvs = reply.get("kvs", [])
        return kvs[0] if kvs else None


class HostWatch(threading.Thread):
    """Every status document of <prefix>/hosts/ as it arrives, stamped with time.monotonic()."""

    def __init__(self, url, prefix, start_revision):
        super().__init__(daemon=True)
        parsed = urllib.parse.urlsplit(url)
        self.prefix = prefix
        self.cond = threading.Condition()
        self.events = {}  # host -> [(t, status dict or None when deleted)]
        self.ended = None
        self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
        self.conn.request("POST", "/v3/watch", json.dumps({"create_request": {
            "key": b64(prefix), "range_end": b64(prefix_end(prefix)), "start_revision": str(start_revision)}}))
        self.response = self.conn.getresponse()
        if self.response.status != 200:
            raise RuntimeError(f"etcd /v3/watch: HTTP {self.response.status}")
        first = json.loads(self.response.readline())  # {"result": {"created": true, ...}}
        if not first.get("result", {}).get("created"):
            raise RuntimeError(f"etcd /v3/watch was not created: {first}")
        self.conn.sock.settimeout(None)  # quiet stretches are normal; the waits have timeouts

    def run(self):
        try:
            while True:
                line = self.response.readline()
                now = time.monotonic()
                if not line:
                    raise RuntimeError("the watch stream ended")
                message = json.loads(line)
                result = message.get("result")
                if result is None or result.get("canceled"):
                    raise RuntimeError(f"the watch ended: {line[:300]!r}")
                with self.cond:
                    for event in result.get("events", []):
                        kv = event["kv"]
                        host = unb64(kv["key"])[len(self.prefix):]
                        status = None
                        if event.get("type") != "DELETE":
                            try:
                                status = json.loads(unb64(kv.get("value", "")))
                            except ValueError:
                                status = {"state": "unreadable"}
                        self.events.setdefault(host, []).append((now, status))
                    self.cond.notify_all()
        except Exception as error:  # noqa: BLE001 - reported to the waiting thread
            with self.cond:
                self.ended = f"{type(error).__name__}: {error}"
                self.cond.notify_all()

    def reached(self, host, revision, states):
        """The first time `host` reported one of `states` at `revision` or later (None: not yet)."""
        for t, status in self.events.get(host, []):
            if status and status.get("state") in states and int(status.get("revision", 0)) >= revision:
                return t
        return None

    def refused(self, host, revision):
        for _, status in self.events.get(host, []):
            if (status and status.get("state") in UNDONE
                    and int(status.get("refused_revision", 0)) >= revision):
                return status
        return None

    def last(self, host):
        events = self.events.get(host)
        return events[-1][1] if events else None

    def wait_all(self, hosts, revision, timeout):
        """{host: time serving}; raises when one refused, the watch ended or the time ran out."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                applied = {h: self.reached(h, revision, SERVING) for h in hosts}
                if all(t is not None for t in applied.values()):
                    return applied
                for h in hosts:
                    refused = self.refused(h, revision)
                    if refused:
                        raise RuntimeError(f"{h} refused revision {revision}: {refused.get('problems')}")
                if self.ended:
                    raise RuntimeError(self.ended)
                left = deadline - time.monotonic()
                if left <= 0:
                    behind = {h: self.last(h) for h, t in applied.items() if t is None}
                    raise RuntimeError(f"not serving within {timeout:g} s of revision {revision}: "
                                       + "; ".join(f"{h}: {json.dumps(s)}" for h, s in behind.items()))
                self.cond.wait(left)


def http_body(port, path, timeout=5):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": "bench"})
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


def cmd_ports(args):
    sockets = []
    for _ in range(args.n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
    print("\n".join(str(s.getsockname()[1]) for s in sockets))
    for s in sockets:
        s.close()


def cmd_put(args):
    with open(args.file) as f:
        print(Etcd(args.etcd).put(args.key, f.read()))


def row(label, values):
    return (f"| {label} | {percentile(values, 50):.1f} | {percentile(values, 99):.1f} | {max(values):.1f} | "
            f"{len(values)} |")


def cmd_run(args):
    sys.setswitchinterval(0.0005)  # the watch thread stamps an event as soon as it is read
    hosts = args.hosts.split(",")
    ports = [int(p) for p in args.http_ports.split(",")]
    with open(args.template) as f:
        template = f.read()
    key = args.prefix + "/config"
    status_prefix = args.prefix + "/hosts/"
    etcd = Etcd(args.etcd)
    os.makedirs(args.out, exist_ok=True)

    # Every host serving the document already there, seen from a watch started where the read ended.
    read_at, kvs = etcd.range_prefix(status_prefix)
    watch = HostWatch(args.etcd, status_prefix, read_at + 1)
    t_read = time.monotonic()
    for kv in kvs:
        watch.events.setdefault(unb64(kv["key"])[len(status_prefix):], []).append(
            (t_read, json.loads(unb64(kv["value"]))))
    watch.start()
    current = etcd.get(key)
    if current is None:
        sys.exit(f"fleet: {key} is not in etcd")
    try:
        watch.wait_all(hosts, int(current["mod_revision"]), args.start_timeout)
    except RuntimeError as error:
        sys.exit(f"fleet: the hosts did not all serve {key} (mod_revision {current['mod_revision']}): {error}")
    first_event = {h: len(watch.events.get(h, [])) for h in hosts}

    # Per put and host: ms from the put's reply to its first status at the put's revision that
    # is `applied` (serving or verifying) and to its first `serving` there.
    applied_ms = {h: [] for h in hosts}
    serving_ms = {h: [] for h in hosts}
    put_ms, all_applied, all_serving = [], [], []
    began = time.monotonic()
    with open(os.path.join(args.out, "samples.jsonl"), "w") as out:
        for i in range(1, args.puts + 1):
            if time.monotonic() - began > args.deadline:
                sys.exit(f"fleet: {i - 1} puts in {args.deadline:g} s: giving up (--deadline)")
            body = f"v{i}"
            sent = time.monotonic()
            revision = etcd.put(key, template.replace("@BODY@", body))
            replied = time.monotonic()
            replied_unix = time.time()  # to line samples up with the hosts' logs
            put_ms.append((replied - sent) * 1000)
            try:
                serving = watch.wait_all(hosts, revision, args.put_timeout)
            except RuntimeError as error:
                sys.exit(f"fleet: put {i} ({body}, revision {revision}): {error}")
            with watch.cond:
                applied = {h: watch.reached(h, revision, APPLIED) for h in hosts}
            for h in hosts:
                a, v = (applied[h] - replied) * 1000, (serving[h] - replied) * 1000
                applied_ms[h].append(a)
                serving_ms[h].append(v)
                out.write(json.dumps({"put": i, "revision": revision, "host": h, "applied_ms": round(a, 3),
                                      "serving_ms": round(v, 3), "put_reply_ms": round(put_ms[-1], 3),
                                      "put_reply_unix": round(replied_unix, 6)}) + "\n")
            all_applied.append(max(applied_ms[h][-1] for h in hosts))
            all_serving.append(max(serving_ms[h][-1] for h in hosts))

    # The listeners serve what the status said.
    last = f"v{args.puts}\n"
    wrong = []
    for host, port in zip(hosts, ports):
        try:
            status, text = http_body(port, "/fleet")
        except OSError as error:
            status, text = 0, f"({error})"
        if status != 200 or text != last:
            wrong.append(f"{host}: {status} {text!r}")

    states = {}
    with watch.cond:
        for h in hosts:
            for _, status in watch.events.get(h, [])[first_event[h]:]:
                name = status.get("state", "?") if status else "deleted"
                states[name] = states.get(name, 0) + 1
    per_host_applied = [ms for h in hosts for ms in applied_ms[h]]
    per_host_serving = [ms for h in hosts for ms in serving_ms[h]]
    n = len(hosts)
    lines = [
        f"put to applied, ms ({args.puts} puts x {n} hosts; from the put's reply to the host's status event "
        f"on a watch of {status_prefix}):",
        "",
        "| | P50 | P99 | max | samples |",
        "|---|---:|---:|---:|---:|",
        row("per host applied", per_host_applied),
        row(f"all {n} applied", all_applied),
        row("per host serving (verified)", per_host_serving),
        row(f"all {n} serving (verified)", all_serving),
        row("put reply (etcd)", put_ms),
        "",
        "applied: the first status at the put's revision with state serving or verifying; serving: the first "
        "with state serving (the next put waits for every host's)",
        "status events seen: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())),
        "by host, applied P50 / P99 / max: " + ", ".join(
            f"{h} {percentile(applied_ms[h], 50):.1f} / {percentile(applied_ms[h], 99):.1f} / {max(applied_ms[h]):.1f}"
            for h in hosts),
        "reference design's fleet: P99 47 ms put to applied",
        (f"listeners: {n}/{n} answer GET /fleet with \"v{args.puts}\"" if not wrong else
         f"listeners: {n - len(wrong)}/{n} answer \"v{args.puts}\"; " + "; ".join(wrong)),
    ]
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(args.out, "summary.txt"), "w") as f:
        f.write(text + "\n")
    return 1 if wrong else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("ports")
    p.add_argument("n", type=int)
    p.set_defaults(func=cmd_ports)
    p = sub.add_parser("put")
    p.add_argument("--etcd", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--file", required=True)
    p.set_defaults(func=cmd_put)
    p = sub.add_parser("run")
    p.add_argument("--etcd", required=True, help="the member the bench puts to and watches")
    p.add_argument("--prefix", required=True)
    p.add_argument("--hosts", required=True, help="host ids, comma-separated")
    p.add_argument("--http-ports", required=True, help="their listener ports, in the same order")
    p.add_argument("--template", required=True, help="the fleet document, @BODY@ for the answer")
    p.add_argument("--puts", type=int, default=50)
    p.add_argument("--start-timeout", type=float, default=30)
    p.add_argument("--put-timeout", type=float, default=10)
    p.add_argument("--deadline", type=float, default=120, help="seconds for all the puts")
    p.add_argument("--out", default=".")
    p.set_defaults(func=cmd_run)
    args = parser.parse_args()
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
