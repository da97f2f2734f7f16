#!/usr/bin/env python3
"""request_client.py PORT COUNT MODE: COUNT sequential GET / requests to 127.0.0.1:PORT.

MODE close: one new connection per request (Connection: close). MODE keepalive: one connection
for all. Prints "ok N of COUNT" (N answered 200) and exits non-zero when any request failed.
Used by tools/bench/instructions, where the proxy runs under callgrind and a fixed request count
matters more than speed.
"""
import socket
import sys


def read_response(sock, buffered):
    """Reads one response with a Content-Length body; returns (status line, leftover bytes)."""
    data = buffered
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed inside a response head")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed inside a response body")
        rest += chunk
    return head.split(b"\r\n", 1)[0], rest[length:]


def main():
    port, count, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    if mode not in ("close", "keepalive"):
        sys.exit(f"request_client.py: MODE must be close or keepalive, not '{mode}'")
    request = b"GET / HTTP/1.1\r\nHost: bench\r\n"
    request += b"Connection: close\r\n\r\n" if mode == "close" else b"\r\n"
    ok = 0
    sock, buffered = None, b""
    for _ in range(count):
        if sock is None:
            sock, buffered = socket.create_connection(("127.0.0.1", port)), b""
        sock.sendall(request)
        status, buffered = read_response(sock, buffered)
        ok += status.startswith(b"HTTP/1.1 200")
        if mode == "close":
            sock.close()
            sock = None
    if sock is not None:
        sock.close()
    print(f"ok {ok} of {count}")
    sys.exit(0 if ok == count else 1)


if __name__ == "__main__":
    main()
