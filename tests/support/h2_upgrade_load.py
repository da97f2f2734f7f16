#!/usr/bin/python3
"""h2_upgrade_load.py: HTTP/2 load that behaves as RFC 9113 asks of a client across a server's
GOAWAY, and checks every answer (docs/http2.md, "Across upgrades").

Each of CONNECTIONS threads keeps STREAMS requests in flight on one HTTP/2 connection
(prior knowledge, 127.0.0.1) for SECONDS: GET /load/<thread>-<n>, whose answer must be 200
"ok /load/<thread>-<n>\\n". On a GOAWAY, streams above its last stream id were not processed
and go again on a new connection (counted as retried); streams at or below it must still be
answered on the old connection, which is then closed and replaced. Anything else is a failure:
another status or body, a reset stream, or a connection that closes with streams unanswered.

Usage: h2_upgrade_load.py PORT SECONDS CONNECTIONS STREAMS
Prints one JSON line: ok, failed, retried, goaways, connections, versions (x-hotgate-version
values seen, with counts), failures (the first 20, described).
"""

import collections
import json
import sys
import threading
import time

from hyperframe.frame import DataFrame, GoAwayFrame, HeadersFrame, RstStreamFrame

from h2_wire import Connection

lock = threading.Lock()
totals = {"ok": 0, "failed": 0, "retried": 0, "goaways": 0, "connections": 0}
versions = collections.Counter()
failures = []


def fail(description):
    with lock:
        totals["failed"] += 1
        if len(failures) < 20:
            failures.append(description)


def finish(state):
    expected = ("ok %s\n" % state["path"]).encode()
    if state["status"] == "200" and state["body"] == expected:
        with lock:
            totals["ok"] += 1
            versions[state["version"]] += 1
    else:
        fail("%s: status %s body %r" % (state["path"], state["status"], state["body"][:80]))


def run_client(port, deadline, streams, tag):
    pending = collections.deque()  # paths to send again first (not processed before a GOAWAY)
    counter = 0
    while time.monotonic() < deadline or pending:
        conn = Connection(port)
        with lock:
            totals["connections"] += 1
        next_id = 1
        in_flight = {}  # stream id -> {"path", "status", "body", "version"}
        goaway = False  # no new stream on this connection after one
        while True:
            while not goaway and len(in_flight) < streams and (pending or time.monotonic() < deadline):
                path = pending.popleft() if pending else "/load/%s-%d" % (tag, counter := counter + 1)
                conn.send(conn.headers(next_id, path))
                in_flight[next_id] = {"path": path, "status": None, "body": b"", "version": None}
                next_id += 2
            if not in_flight or conn.closed:
                break
            for frame in conn.poll(10):
                state = in_flight.get(frame.stream_id)
                if isinstance(frame, HeadersFrame) and state is not None:
                    fields = dict(frame.fields)
                    if int(fields.get(":status", "0")) >= 200:
                        state["status"] = fields.get(":status")
                        state["version"] = fields.get("x-hotgate-version")
                elif isinstance(frame, DataFrame) and state is not None:
                    state["body"] += frame.data
                elif isinstance(frame, RstStreamFrame) and state is not None:
                    in_flight.pop(frame.stream_id)
                    fail("%s: stream reset with error %d" % (state["path"], frame.error_code))
                    continue
                elif isinstance(frame, GoAwayFrame):
                    goaway = True
                    with lock:
                        totals["goaways"] += 1
                    # Streams above its last stream id were not processed: they go again.
                    for stream_id in [s for s in in_flight if s > frame.last_stream_id]:
                        pending.append(in_flight.pop(stream_id)["path"])
                        with lock:
                            totals["retried"] += 1
                if state is not None and "END_STREAM" in frame.flags and frame.stream_id in in_flight:
                    finish(in_flight.pop(frame.stream_id))
        for state in in_flight.values():
            fail("%s: connection closed with the stream unanswered" % state["path"])
        conn.close()


def main():
    port, seconds, connections, streams = (int(arg) for arg in sys.argv[1:5])
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=run_client, args=(port, deadline, streams, "c%d" % i))
               for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(dict(totals, versions=dict(versions), failures=failures)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
