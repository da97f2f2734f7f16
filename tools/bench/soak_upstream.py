#!/usr/bin/env python3
"""The upstream of tools/bench/soak: HTTP/1.1 on 127.0.0.1:PORT, keep-alive, one thread.

Every request is answered 200 "ok\\n" (its body, Content-Length or chunked, is read and
dropped); a WebSocket upgrade (/ws) is accepted and every data frame echoed back with its
opcode, so loadgen's streams check their echoes through the gateway. Runs until SIGTERM or
--max-seconds. Not a test: a load source's counterpart for a benchmark.
"""
import argparse
import asyncio
import base64
import hashlib
import signal
import struct

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"


async def read_body(reader, headers):
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b""):
                    pass  # trailers
                return
            await reader.readexactly(size + 2)
    length = int(headers.get(b"content-length", b"0"))
    if length:
        await reader.readexactly(length)


async def echo_websocket(reader, writer):
    while True:
        head = await reader.readexactly(2)
        opcode, masked, length = head[0] & 0x0F, head[1] & 0x80, head[1] & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await reader.readexactly(8))
        mask = await reader.readexactly(4) if masked else b"\0\0\0\0"
        data = bytearray(await reader.readexactly(length))
        for i in range(length):
            data[i] ^= mask[i % 4]
        if opcode == 0x9:  # ping -> pong
            opcode = 0xA
        elif opcode == 0xA:
            continue
        if length < 126:
            frame = bytes([0x80 | opcode, length])
        elif length < 65536:
            frame = bytes([0x80 | opcode, 126]) + struct.pack("!H", length)
        else:
            frame = bytes([0x80 | opcode, 127]) + struct.pack("!Q", length)
        writer.write(frame + bytes(data))
        await writer.drain()
        if opcode == 0x8:  # close echoed: done
            return


async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            headers = {}
            for line in lines[1:]:
                if b":" in line:
                    name, value = line.split(b":", 1)
                    headers[name.strip().lower()] = value.strip()
            if headers.get(b"upgrade", b"").lower() == b"websocket":
                accept = base64.b64encode(hashlib.sha1(headers[b"sec-websocket-key"] + WS_GUID).digest())
                writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                             b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
                await writer.drain()
                await echo_websocket(reader, writer)
                return
            await read_body(reader, headers)
            close = headers.get(b"connection", b"").lower() == b"close"
            writer.write(OK + (b"Connection: close\r\n" if close else b"") + b"\r\nok\n")
            await writer.drain()
            if close:
                return
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError, KeyError):
        pass
    finally:
        writer.close()


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-seconds", type=float, default=7200, help="stop by itself after this long")
    args = parser.parse_args()
    server = await asyncio.start_server(serve, "127.0.0.1", args.port, backlog=1024, reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        try:
            await asyncio.wait_for(stop.wait(), args.max_seconds)
        except asyncio.TimeoutError:
            pass


if __name__ == "__main__":
    asyncio.run(main())
