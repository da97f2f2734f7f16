"""h2_wire.py: HTTP/2 frames over a socket, written and read by hand (hyperframe, hpack), for
the HTTP/2 test clients (h2_frames.py, h2_upgrade_load.py). Unlike a client library it keeps
going after a GOAWAY, as RFC 9113 6.8 asks: streams the GOAWAY covers are still answered.
"""

import socket
import time

from hpack import Decoder, Encoder
from hyperframe.frame import (DataFrame, Frame, HeadersFrame, PingFrame, SettingsFrame,
                              WindowUpdateFrame)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class Connection:
    """One client connection to 127.0.0.1:port (prior knowledge). poll() returns the frames
    read, HEADERS with their decoded .fields; SETTINGS and PING are acknowledged and, with
    auto_window, every DATA byte is given back at once (WINDOW_UPDATE). With preface_first=False
    the preface and SETTINGS go out with the first send(), in the same write."""

    def __init__(self, port, settings=None, auto_window=True, preface_first=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.encoder = Encoder()
        self.decoder = Decoder()  # one per connection: it follows the server's dynamic table
        self.buffer = b""
        self.closed = False
        self.auto_window = auto_window
        self.unsent = PREFACE + SettingsFrame(0, settings=settings or {}).serialize()
        if preface_first:
            self.send()

    def send(self, *frames):
        data, self.unsent = self.unsent + b"".join(frame.serialize() for frame in frames), b""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            self.closed = True
            return False

    def headers(self, stream_id, path, method="GET", end_stream=True, extra=()):
        fields = [(":method", method), (":scheme", "http"), (":authority", "localhost"), (":path", path)]
        frame = HeadersFrame(stream_id, self.encoder.encode(fields + list(extra)))
        frame.flags.add("END_HEADERS")
        if end_stream:
            frame.flags.add("END_STREAM")
        return frame

    def poll(self, timeout):
        """The frames that arrive within `timeout` seconds (at least one unless it passes or
        the connection closes: then closed is set)."""
        deadline = time.monotonic() + timeout
        frames = []
        while not frames and not self.closed:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                break
            except OSError:
                data = b""
            if not data:
                self.closed = True
                break
            self.buffer += data
            while len(self.buffer) >= 9:
                frame, length = Frame.parse_frame_header(memoryview(self.buffer[:9]))
                if len(self.buffer) < 9 + length:
                    break
                frame.parse_body(memoryview(self.buffer[9:9 + length]))
                self.buffer = self.buffer[9 + length:]
                frames.append(self.on_frame(frame))
        return frames

    def on_frame(self, frame):
        if isinstance(frame, HeadersFrame):
            frame.fields = [(name.decode() if isinstance(name, bytes) else name,
                             value.decode() if isinstance(value, bytes) else value)
                            for name, value in self.decoder.decode(frame.data)]
        elif isinstance(frame, SettingsFrame) and "ACK" not in frame.flags:
            ack = SettingsFrame(0)
            ack.flags.add("ACK")
            self.send(ack)
        elif isinstance(frame, PingFrame) and "ACK" not in frame.flags:
            ack = PingFrame(0, opaque_data=frame.opaque_data)
            ack.flags.add("ACK")
            self.send(ack)
        elif isinstance(frame, DataFrame) and self.auto_window and frame.flow_controlled_length > 0:
            self.send(WindowUpdateFrame(0, window_increment=frame.flow_controlled_length),
                      WindowUpdateFrame(frame.stream_id, window_increment=frame.flow_controlled_length))
        return frame

    def close(self):
        self.sock.close()
