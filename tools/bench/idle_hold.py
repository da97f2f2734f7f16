#!/usr/bin/env python3
"""Idle keep-alive connections to one proxy: memory per connection and latency while held.

With --h2 the connections speak HTTP/2 by prior knowledge (one stream each, then idle).

Used by tools/bench/idle; not a test. For each count in --counts (ascending), opens connections
to 127.0.0.1:PORT until that many are held, each after one GET answered 200 (so every connection
has served a request and sits idle, as a client's keep-alive connection does), waits --settle
seconds, then records the resident memory of the server's processes (--pids, VmRSS summed) and
the latency of --probes requests, each on a fresh connection, made while all are held. At the
end it checks that a sample of the held connections still answers. Prints one JSON line per
count and one for the final check.

Connections come from source addresses 127.0.0.2, 127.0.0.3, ... (IP_BIND_ADDRESS_NO_PORT: the
port is chosen at connect time), so more than one ephemeral port range's worth can be held.
"""
import argparse
import json
import random
import resource
import selectors
import socket
import statistics
import sys
import time

IP_BIND_ADDRESS_NO_PORT = 24
PER_SOURCE = 20000
BATCH = 250  # connections opened at once: within any listen backlog
REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"

# --h2: the same GET over HTTP/2 by prior knowledge. The header block is static HPACK (:method
# GET, :scheme http, :path /, :authority bench), so every request can reuse it; `h2_request(n)`
# is the n-th request of a connection (stream 2n-1), the first one behind the preface.
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
H2_BLOCK = bytes([0x82, 0x86, 0x84, 0x01, 0x05]) + b"bench"


def h2_request(n):
    frame = len(H2_BLOCK).to_bytes(3, "big") + bytes([1, 0x05]) + (2 * n - 1).to_bytes(4, "big") + H2_BLOCK
    return (H2_PREFACE if n == 1 else b"") + frame


def h2_frames(data):
    """(type, flags, stream, payload) of each whole frame in `data`."""
    at = 0
    while len(data) - at >= 9:
        length = int.from_bytes(data[at:at + 3], "big")
        if len(data) - at < 9 + length:
            break
        yield data[at + 3], data[at + 4], int.from_bytes(data[at + 5:at + 9], "big") & 0x7fffffff, \
            data[at + 9:at + 9 + length]
        at += 9 + length


def h2_complete(data):
    """True when a response stream has ended (END_STREAM on its HEADERS or DATA)."""
    return any(kind in (0, 1) and flags & 1 and stream for kind, flags, stream, _ in h2_frames(data))


def h2_status_ok(data):
    """The response's HEADERS begin with :status 200 (static index 8, as nghttp2 and NGINX encode it)."""
    return any(kind == 1 and stream and payload[:1] == b"\x88" for kind, _, stream, payload in h2_frames(data))


H2 = False  # set by --h2


def request_bytes(n=1):
    return h2_request(n) if H2 else REQUEST


def rss_kib(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def complete(data):
    """True when `data` holds a whole response with a Content-Length body (what the proxies send)."""
    if H2:
        return h2_complete(data)
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return False
    length = 0
    for line in data[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return len(data) >= end + 4 + length


def status_ok(data):
    return h2_status_ok(data) if H2 else data.startswith(b"HTTP/1.1 200")


def open_batch(port, count, first_index, timeout_s=30.0):
    """Opens `count` connections and makes one request on each; returns the sockets that got 200."""
    sel = selectors.DefaultSelector()
    pending = {}
    for i in range(count):
        index = first_index + i
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        s.bind((f"127.0.0.{2 + index // PER_SOURCE}", 0))
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        sel.register(s, selectors.EVENT_WRITE)
        pending[s] = b""
    ok = []
    deadline = time.monotonic() + timeout_s
    sent = set()
    while pending and time.monotonic() < deadline:
        for key, events in sel.select(timeout=1.0):
            s = key.fileobj
            if s not in sent:
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    sel.unregister(s); s.close(); pending.pop(s)
                    continue
                try:
                    s.sendall(request_bytes())
                except OSError:
                    sel.unregister(s); s.close(); pending.pop(s)
                    continue
                sent.add(s)
                sel.modify(s, selectors.EVENT_READ)
                continue
            try:
                chunk = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                sel.unregister(s); s.close(); pending.pop(s)
                continue
            pending[s] += chunk
            if complete(pending[s]):
                sel.unregister(s)
                if status_ok(pending[s]):
                    ok.append(s)
                else:
                    s.close()
                pending.pop(s)
    for s in pending:
        sel.unregister(s)
        s.close()
    sel.close()
    return ok


def request_latency_ms(port):
    """One GET on a fresh connection: milliseconds from connect to the whole response."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request_bytes())
        data = b""
        while not complete(data):
            chunk = s.recv(4096)
            if not chunk:
                raise RuntimeError("connection closed before the response ended")
            data += chunk
    if not status_ok(data):
        status_line = data.split(b"\r\n", 1)[0]
        raise RuntimeError(f"status line {status_line!r}")
    return (time.monotonic() - start) * 1000.0


def still_answers(socks, sample):
    """Sends a request on `sample` random held connections; returns how many answered 200."""
    answered = 0
    for s in random.sample(socks, min(sample, len(socks))):
        s.setblocking(True)
        s.settimeout(5)
        try:
            s.sendall(request_bytes(2))
            data = b""
            while not complete(data):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            answered += status_ok(data) and complete(data)
        except OSError:
            pass
    return answered


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pids", required=True, help="comma-separated PIDs whose VmRSS is summed")
    parser.add_argument("--counts", required=True, help="comma-separated, ascending: 5000,20000,100000")
    parser.add_argument("--target", required=True, help="name for the output")
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--probes", type=int, default=50)
    parser.add_argument("--h2", action="store_true", help="HTTP/2 by prior knowledge instead of HTTP/1.1")
    args = parser.parse_args()
    global H2
    H2 = args.h2
    pids = [int(p) for p in args.pids.split(",")]
    counts = [int(c) for c in args.counts.split(",")]

    request_latency_ms(args.port)  # warm-up: pools and buffers that exist once, not per connection
    time.sleep(args.settle)
    base = rss_kib(pids)
    held = []
    refused = False
    for count in counts:
        failed_batches = 0
        while len(held) < count and not refused:
            batch = min(BATCH, count - len(held))
            got = open_batch(args.port, batch, len(held) + failed_batches * BATCH)
            held.extend(got)
            if len(got) < batch:
                failed_batches += 1
                print(f"idle: {args.target}: {batch - len(got)} of {batch} new connections got no "
                      f"answer with {len(held)} held", file=sys.stderr)
                if not got or failed_batches > 10:
                    print(f"idle: {args.target}: measuring at {len(held)}", file=sys.stderr)
                    refused = True
        time.sleep(args.settle)
        rss = rss_kib(pids)
        latencies = sorted(request_latency_ms(args.port) for _ in range(args.probes))
        print(json.dumps({
            "target": args.target, "connections": len(held), "rss_base_kib": base, "rss_kib": rss,
            "bytes_per_connection": round((rss - base) * 1024 / max(len(held), 1)),
            "fresh_request_ms_p50": round(statistics.median(latencies), 3),
            "fresh_request_ms_max": round(latencies[-1], 3),
        }), flush=True)
        if refused:
            break
    answered = still_answers(held, 200)
    print(json.dumps({"target": args.target, "check": "held connections still answer",
                      "sample": min(200, len(held)), "answered": answered}), flush=True)
    for s in held:
        s.close()


if __name__ == "__main__":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    main()
