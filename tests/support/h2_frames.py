#!/usr/bin/python3
"""h2_frames.py: a raw HTTP/2 client for hotgate's abuse tests (docs/http2.md, "Abuse limits").

Sends what a well-behaved client library refuses to, and prints one JSON line of what the
server did:

  goaway        the GOAWAY error code received (null: none), and goaway_last_stream
  closed        the server closed the connection
  statuses      {stream id: :status} of the final responses received
  resets        {stream id: RST_STREAM error code} received
  ping_answered a PING sent at the end was answered (the connection still serves)
  elapsed       seconds from the first abusive frame to the server's reaction

Usage: h2_frames.py PORT CASE [N]   (always 127.0.0.1)
  rapid-reset N         N requests, each reset right after its HEADERS (CVE-2023-44487)
  ping-flood N          N PINGs
  settings-flood N      N empty SETTINGS frames
  empty-data-flood N    one POST, then N empty DATA frames
  continuation-flood N  one HEADERS without END_HEADERS, then N CONTINUATION frames
  continuation-flood-first-write N
                        the same, sent with the preface in the connection's first write
  hpack-bomb N          one 4000-byte field put in the dynamic table, then referenced N times
                        (a 1-byte index each), then a plain GET on the same connection
  streams N             N GET /slow?ms=1500 at once
  zero-window           SETTINGS_INITIAL_WINDOW_SIZE 0, then GET /chunked?n=100&size=1000,
                        never opening the window
  idle N                one GET, then nothing for N seconds at most (until a GOAWAY)
  slow N                GET /slow?ms=N, read until it ends, is reset or the connection closes
                        (N/1000 + 5 seconds at most); prints `ready` on stderr once it is sent
"""

import json
import sys
import time

from hyperframe.frame import (ContinuationFrame, DataFrame, GoAwayFrame, HeadersFrame, PingFrame,
                              RstStreamFrame, SettingsFrame)

from h2_wire import Connection

CANCEL = 0x8


class Report:
    def __init__(self, conn):
        self.conn = conn
        self.result = {"goaway": None, "goaway_last_stream": None, "closed": False, "statuses": {},
                       "resets": {}, "ping_answered": False}

    def read(self, until, timeout):
        deadline = time.monotonic() + timeout
        while not until() and not self.conn.closed and time.monotonic() < deadline:
            for frame in self.conn.poll(deadline - time.monotonic()):
                if isinstance(frame, GoAwayFrame):
                    self.result["goaway"] = frame.error_code
                    self.result["goaway_last_stream"] = frame.last_stream_id
                elif isinstance(frame, RstStreamFrame):
                    self.result["resets"][frame.stream_id] = frame.error_code
                elif isinstance(frame, HeadersFrame):
                    for name, value in frame.fields:
                        if name == ":status" and int(value) >= 200:
                            self.result["statuses"][frame.stream_id] = int(value)
                elif isinstance(frame, PingFrame) and "ACK" in frame.flags and frame.opaque_data == b"lastping":
                    self.result["ping_answered"] = True
        self.result["closed"] = self.conn.closed

    def goaway(self):
        return lambda: self.result["goaway"] is not None

    def still_serves(self):
        """Sends a PING and waits for its answer: the connection was not closed."""
        if self.conn.closed or self.result["goaway"] is not None:
            return
        if self.conn.send(PingFrame(0, opaque_data=b"lastping")):
            self.read(lambda: self.result["ping_answered"], 5)


def main():
    port, case = int(sys.argv[1]), sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    if case == "zero-window":
        conn = Connection(port, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 0}, auto_window=False)
    elif case == "continuation-flood-first-write":
        conn = Connection(port, preface_first=False)
    else:
        conn = Connection(port)
    report = Report(conn)
    started = time.monotonic()
    if case == "rapid-reset":
        for i in range(n):
            stream_id = 1 + 2 * i
            if not conn.send(conn.headers(stream_id, "/slow?ms=200"), RstStreamFrame(stream_id, error_code=CANCEL)):
                break
        report.read(report.goaway(), 10)
    elif case == "ping-flood":
        conn.send(*[PingFrame(0, opaque_data=i.to_bytes(8, "big")) for i in range(n)])
        report.read(report.goaway(), 10)
    elif case == "settings-flood":
        conn.send(*[SettingsFrame(0) for _ in range(n)])
        report.read(report.goaway(), 10)
    elif case == "empty-data-flood":
        conn.send(conn.headers(1, "/echo", method="POST", end_stream=False))
        conn.send(*[DataFrame(1, b"") for _ in range(n)])
        report.read(report.goaway(), 10)
    elif case.startswith("continuation-flood"):
        fields = [(":method", "GET"), (":scheme", "http"), (":authority", "localhost"), (":path", "/")]
        headers = HeadersFrame(1, conn.encoder.encode(fields))  # no END_HEADERS
        conn.send(headers, *[ContinuationFrame(1, conn.encoder.encode([("x-filler-%d" % i, "a" * 32)]))
                             for i in range(n)])
        report.read(report.goaway(), 10)
    elif case == "hpack-bomb":
        fields = [(":method", "GET"), (":scheme", "http"), (":authority", "localhost"), (":path", "/"),
                  ("x-bomb", "b" * 4000)]
        block = conn.encoder.encode(fields)  # x-bomb enters the dynamic table (index 62)
        block += bytes([0x80 | 62]) * n      # and is referenced again n times, a byte each
        frame = HeadersFrame(1, block)
        frame.flags.add("END_HEADERS")
        frame.flags.add("END_STREAM")
        conn.send(frame)
        report.read(lambda: 1 in report.result["statuses"] or 1 in report.result["resets"], 5)
        conn.send(conn.headers(3, "/after-bomb"))
        report.read(lambda: 3 in report.result["statuses"] or report.result["goaway"] is not None, 5)
    elif case == "streams":
        conn.send(*[conn.headers(1 + 2 * i, "/slow?ms=1500") for i in range(n)])
        report.read(lambda: len(report.result["statuses"]) + len(report.result["resets"]) >= n, 10)
    elif case == "zero-window":
        conn.send(conn.headers(1, "/chunked?n=100&size=1000"))
        report.read(lambda: 1 in report.result["resets"], 15)
    elif case == "slow":
        conn.send(conn.headers(1, "/slow?ms=%d" % n))
        print("ready", file=sys.stderr, flush=True)
        report.read(lambda: 1 in report.result["statuses"] or 1 in report.result["resets"], n / 1000 + 5)
        if 1 in report.result["resets"]:  # and the GOAWAY that follows
            report.read(report.goaway(), 2)
    elif case == "idle":
        conn.send(conn.headers(1, "/before-idle"))
        report.read(report.goaway(), n)
    else:
        print("unknown case " + case, file=sys.stderr)
        return 2
    report.result["elapsed"] = round(time.monotonic() - started, 3)
    report.still_serves()
    print(json.dumps(report.result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
