#!/usr/bin/python3
"""grpc_echo.py: a gRPC echo server and two clients (one call; a checked load) for the gRPC
proxy tests. No generated code: generic handlers and stubs carry the messages as raw bytes.

Service hotgate.test.Echo, on 127.0.0.1 without TLS:
  Unary  answers NAME + " " + request. Request metadata "sleep-ms: N" makes it sleep N ms first
         (less if the call's deadline passes first); "status: CODE" makes it fail with that gRPC
         status code (an int) and the message "asked for CODE".
  Bidi   answers every message m with NAME + " " + m, in order, and ends OK when the client
         half-closes.
Both set the trailing metadata "x-echo-trailer: NAME".

Usage:
  grpc_echo.py server --port P --name NAME [--port-file F] [--tls-cert PEM --tls-key PEM]
      Serves until SIGTERM or SIGINT (then stops with 0.5 s of grace). Port 0 binds any free
      port, written to F. Prints one line, "ready <port>", once serving.
  grpc_echo.py call --target HOST:PORT [--method Unary|Bidi] [--message TEXT] [--count N]
                    [--timeout SECONDS] [--metadata K=V ...]
      One call (Bidi sends TEXT N times, then half-closes). Prints one JSON line: code (the
      StatusCode name, e.g. OK, UNAVAILABLE), details, responses (decoded), trailers and initial
      (metadata, key: value). Exits 0 whatever the status.
  grpc_echo.py load --target HOST:PORT --seconds S [--streams 20] [--interval 0.1]
                    [--unary-rate 200] [--stop-file F]
      For S seconds, or until F exists: STREAMS threads, each with its own channel, keep one
      Bidi stream open and play ping-pong on it every INTERVAL seconds ("s<thread>-<n>", whose
      answer must be "<name> s<thread>-<n>", within 5 s); 8 threads make UNARY_RATE Unary calls
      a second ("u<n>", answer "<name> u<n>", 5 s deadline). A stream that ends with UNAVAILABLE,
      or ends (any status) after answering some of its messages, was cut: it is counted as
      retried and a new stream sends the unanswered message again, which must then be answered.
      Any other end of a stream is a failure, as is any Unary status but OK, or a wrong answer.
      At the end every stream sends its last message, half-closes and must end OK; that drain
      has 10 s, and the process prints its line and exits by itself within S + 15 s.
      Prints one JSON line: unary_ok, unary_failed, messages_ok, messages_bad, streams_ok,
      streams_retried, streams_failed, servers (server names seen in answers, with counts),
      retry_codes (status names of the cut streams, with counts), failures (the first 20,
      described).
"""

import argparse
import collections
import concurrent.futures
import itertools
import json
import os
import queue
import signal
import sys
import threading
import time

import grpc

SERVICE = "hotgate.test.Echo"
UNARY = "/%s/Unary" % SERVICE
BIDI = "/%s/Bidi" % SERVICE
CODES = {code.value[0]: code for code in grpc.StatusCode}
CHANNEL_OPTIONS = [
    ("grpc.enable_retries", 1),
    ("grpc.max_reconnect_backoff_ms", 200),
    ("grpc.initial_reconnect_backoff_ms", 50),
    # Not grpc.min_reconnect_backoff_ms: it is the connect timeout (100 ms at least), and a
    # connection not up (SETTINGS received) by then fails every call waiting on it UNAVAILABLE.
    # Channels to one target share their connections unless each has its own subchannel pool.
    ("grpc.use_local_subchannel_pool", 1),
]
RESPONSE_TIMEOUT = 5.0
DRAIN_SECONDS = 10.0


def metadata_dict(metadata):
    result = {}
    for key, value in metadata or ():
        result[key] = value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value
    return result


# ---- server ----

def run_server(args):
    name = args.name.encode()

    def unary(request, context):
        context.set_trailing_metadata((("x-echo-trailer", args.name),))
        metadata = metadata_dict(context.invocation_metadata())
        if "sleep-ms" in metadata:
            until = time.monotonic() + int(metadata["sleep-ms"]) / 1000.0
            while time.monotonic() < until and context.is_active():
                remaining = context.time_remaining()
                if remaining is not None and remaining <= 0:
                    break  # past the deadline: the client has its answer already
                time.sleep(min(0.02, max(0.0, until - time.monotonic())))
        if "status" in metadata:
            code = CODES.get(int(metadata["status"]), grpc.StatusCode.UNKNOWN)
            if code != grpc.StatusCode.OK:
                context.abort(code, "asked for %s" % metadata["status"])
        return name + b" " + request

    def bidi(requests, context):
        context.set_trailing_metadata((("x-echo-trailer", args.name),))
        for message in requests:
            yield name + b" " + message

    handler = grpc.method_handlers_generic_handler(SERVICE, {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
    })
    # A Bidi stream holds a worker for its whole life: room for 64 of them and the Unary calls.
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=128),
                         handlers=(handler,))
    if args.tls_cert:
        with open(args.tls_cert, "rb") as cert, open(args.tls_key, "rb") as key:
            credentials = grpc.ssl_server_credentials([(key.read(), cert.read())])
        port = server.add_secure_port("127.0.0.1:%d" % args.port, credentials)  # ALPN h2
    else:
        port = server.add_insecure_port("127.0.0.1:%d" % args.port)
    if port == 0:
        print("cannot listen on 127.0.0.1:%d" % args.port, file=sys.stderr)
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start()
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as out:
            out.write("%d\n" % port)
        os.replace(args.port_file + ".tmp", args.port_file)
    print("ready %d" % port, flush=True)
    while not stop.wait(0.2):
        pass
    server.stop(0.5).wait()
    return 0


# ---- call ----

def run_call(args):
    metadata = []
    for item in args.metadata or ():
        key, _, value = item.partition("=")
        metadata.append((key, value))
    channel = grpc.insecure_channel(args.target, options=CHANNEL_OPTIONS)
    responses = []
    try:
        if args.method == "Unary":
            stub = channel.unary_unary(UNARY, request_serializer=None, response_deserializer=None)
            response, call = stub.with_call(args.message.encode(), timeout=args.timeout,
                                            metadata=metadata)
            responses.append(response)
        else:
            stub = channel.stream_stream(BIDI, request_serializer=None, response_deserializer=None)
            call = stub(iter([args.message.encode()] * args.count), timeout=args.timeout,
                        metadata=metadata)
            for response in call:
                responses.append(response)
    except grpc.RpcError as error:
        call = error
    result = {
        "code": call.code().name,
        "details": call.details() or "",
        "responses": [r.decode("utf-8", "backslashreplace") for r in responses],
        "trailers": metadata_dict(call.trailing_metadata()),
        "initial": metadata_dict(call.initial_metadata()),
    }
    print(json.dumps(result), flush=True)
    channel.close()
    return 0


# ---- load ----

class Load:
    """Counters shared by the load threads, and the clock they stop by."""

    def __init__(self, seconds, stop_file):
        self.lock = threading.Lock()
        self.totals = dict.fromkeys(("unary_ok", "unary_failed", "messages_ok", "messages_bad",
                                     "streams_ok", "streams_retried", "streams_failed"), 0)
        self.servers = collections.Counter()
        self.retry_codes = collections.Counter()
        self.failures = []
        self.start = time.monotonic()
        self.end = self.start + seconds
        self.stop_file = stop_file
        self.stopping = threading.Event()
        self.hard_deadline = self.end + DRAIN_SECONDS

    def watch(self):
        """Sets stopping at the end of the time or when the stop file appears."""
        while not self.stopping.is_set():
            now = time.monotonic()
            if now >= self.end or (self.stop_file and os.path.exists(self.stop_file)):
                self.hard_deadline = min(self.hard_deadline, now + DRAIN_SECONDS)
                self.stopping.set()
            else:
                time.sleep(0.02)

    def count(self, key, failure=None):
        with self.lock:
            self.totals[key] += 1
            if failure is not None and len(self.failures) < 20:
                self.failures.append(failure)

    def answered(self, response, text, ok_key, bad_key, what):
        """Checks response == "<name> <text>"; counts it under ok_key or bad_key."""
        name, sep, echoed = response.decode("utf-8", "backslashreplace").partition(" ")
        if sep and echoed == text:
            with self.lock:
                self.totals[ok_key] += 1
                self.servers[name] += 1
            return True
        self.count(bad_key, "%s: %s answered %r" % (text, what, response[:80]))
        return False

    def remaining(self, limit=RESPONSE_TIMEOUT):
        return max(0.0, min(limit, self.hard_deadline - time.monotonic()))


class Stream:
    """One Bidi call: send() queues a message, next() waits for the next event, either
    ("message", bytes) or ("end", StatusCode, details), or None when none came in time."""

    def __init__(self, stub, timeout):
        self.requests = queue.Queue()
        self.events = queue.Queue()
        self.call = stub(self._iterate(), timeout=timeout)
        threading.Thread(target=self._read, daemon=True).start()

    def _iterate(self):
        while True:
            message = self.requests.get()
            if message is None:
                return
            yield message

    def _read(self):
        try:
            for response in self.call:
                self.events.put(("message", response))
            self.events.put(("end", self.call.code(), self.call.details()))
        except grpc.RpcError as error:
            self.events.put(("end", error.code(), error.details()))
        except Exception as error:  # noqa: BLE001 (whatever it is, the stream is over)
            self.events.put(("end", grpc.StatusCode.UNKNOWN, repr(error)))

    def send(self, text):
        self.requests.put(text.encode())

    def half_close(self):
        self.requests.put(None)

    def next(self, timeout):
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self):
        self.call.cancel()
        self.requests.put(None)  # lets grpc's thread that reads the requests finish


def run_stream(load, target, index, interval):
    channel = grpc.insecure_channel(target, options=CHANNEL_OPTIONS)
    stub = channel.stream_stream(BIDI, request_serializer=None, response_deserializer=None)
    tag = "s%d" % index
    counter = 0
    pending = None  # sent and not answered yet: first on the next stream
    last = False  # the message pending is the last one
    done = False
    while not done:
        if time.monotonic() >= load.hard_deadline:
            load.count("streams_failed", "%s: the drain did not finish in time" % tag)
            break
        stream = Stream(stub, timeout=load.hard_deadline + 2 - time.monotonic())
        verified = 0
        while True:
            if pending is None:
                last = load.stopping.is_set()
                counter += 1
                pending = "%s-%d" % (tag, counter)
            sent_at = time.monotonic()
            stream.send(pending)
            event = stream.next(load.remaining())
            if event is None:
                load.count("streams_failed", "%s: no answer within %.0f s" % (pending, RESPONSE_TIMEOUT))
                pending = None
                done = last or load.stopping.is_set()
                break
            if event[0] == "end":
                code, details = event[1], event[2]
                if code == grpc.StatusCode.UNAVAILABLE or verified:
                    # Cut: a new stream sends the unanswered message again.
                    load.count("streams_retried")
                    with load.lock:
                        load.retry_codes[code.name] += 1
                    time.sleep(min(interval, 0.05))
                else:
                    load.count("streams_failed", "%s: stream ended with %s (%s) before answering"
                               % (pending, code.name, details))
                    pending = None
                    done = last
                    time.sleep(interval)
                break
            if load.answered(event[1], pending, "messages_ok", "messages_bad", "stream"):
                verified += 1
            answered, pending = pending, None
            if last:
                stream.half_close()
                event = stream.next(load.remaining())
                if event is None:
                    load.count("streams_failed", "%s: stream did not end after the half-close" % tag)
                    done = True
                elif event[0] == "message":
                    load.count("streams_failed", "%s: answer %r after the half-close" % (tag, event[1][:80]))
                    done = True
                elif event[1] == grpc.StatusCode.OK:
                    load.count("streams_ok")
                    done = True
                elif event[1] == grpc.StatusCode.UNAVAILABLE or verified:
                    # Cut before its status: the last message again, on a new stream.
                    load.count("streams_retried")
                    with load.lock:
                        load.retry_codes[event[1].name] += 1
                    pending = answered
                    time.sleep(min(interval, 0.05))
                else:
                    load.count("streams_failed", "%s: stream ended with %s (%s) after the half-close"
                               % (tag, event[1].name, event[2]))
                    done = True
                break
            load.stopping.wait(max(0.0, sent_at + interval - time.monotonic()))
        stream.close()
    channel.close()


def run_unary(load, channel, numbers, period, offset):
    stub = channel.unary_unary(UNARY, request_serializer=None, response_deserializer=None)
    next_at = time.monotonic() + offset
    while not load.stopping.wait(max(0.0, next_at - time.monotonic())):
        next_at = max(next_at + period, time.monotonic() - 1.0)  # catch up at most 1 s
        text = "u%d" % next(numbers)
        try:
            response = stub(text.encode(), timeout=RESPONSE_TIMEOUT)
        except grpc.RpcError as error:
            load.count("unary_failed", "%s: %s (%s)" % (text, error.code().name, error.details()))
            continue
        load.answered(response, text, "unary_ok", "unary_failed", "unary")


def run_load(args):
    load = Load(args.seconds, args.stop_file)
    threads = [threading.Thread(target=run_stream, args=(load, args.target, i, args.interval), daemon=True)
               for i in range(args.streams)]
    channels = []
    if args.unary_rate > 0:
        workers = 8
        channels = [grpc.insecure_channel(args.target, options=CHANNEL_OPTIONS) for _ in range(2)]
        numbers = itertools.count(1)  # next() on it is atomic in CPython
        period = workers / args.unary_rate
        threads += [threading.Thread(target=run_unary, daemon=True,
                                     args=(load, channels[i % 2], numbers, period, i * period / workers))
                    for i in range(workers)]
    for thread in threads:
        thread.start()
    load.watch()
    for thread in threads:
        thread.join(max(0.0, load.hard_deadline + 2 - time.monotonic()))
    with load.lock:
        stuck = sum(thread.is_alive() for thread in threads)
        if stuck and len(load.failures) < 20:
            load.failures.append("%d threads still running at the end" % stuck)
        result = dict(load.totals, servers=dict(load.servers), retry_codes=dict(load.retry_codes),
                      failures=list(load.failures))
    print(json.dumps(result), flush=True)
    if not stuck:
        for channel in channels:
            channel.close()
    os._exit(0)  # no wait for grpc's threads (a hung target must not hold the process)


def main():
    parser = argparse.ArgumentParser(description="gRPC echo server and clients for the proxy tests")
    commands = parser.add_subparsers(dest="command", required=True)
    server = commands.add_parser("server")
    server.add_argument("--port", type=int, required=True)
    server.add_argument("--name", required=True)
    server.add_argument("--port-file")
    server.add_argument("--tls-cert", help="PEM chain: serve TLS (ALPN h2) with it and --tls-key")
    server.add_argument("--tls-key")
    call = commands.add_parser("call")
    call.add_argument("--target", required=True)
    call.add_argument("--method", choices=("Unary", "Bidi"), default="Unary")
    call.add_argument("--message", default="hello")
    call.add_argument("--count", type=int, default=1)
    call.add_argument("--timeout", type=float, default=10.0)
    call.add_argument("--metadata", nargs="*", action="extend", metavar="K=V")
    load = commands.add_parser("load")
    load.add_argument("--target", required=True)
    load.add_argument("--seconds", type=float, required=True)
    load.add_argument("--streams", type=int, default=20)
    load.add_argument("--interval", type=float, default=0.1)
    load.add_argument("--unary-rate", type=float, default=200)
    load.add_argument("--stop-file")
    args = parser.parse_args()
    return {"server": run_server, "call": run_call, "load": run_load}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
