"""A minimal MQTT 5 client over TLS that writes its packets by hand, for the broker tests that must
send what paho never sends (or sends too slowly to matter): a PUBLISH or a Last Will carrying a
property block of a megabyte, a QoS 2 PUBLISH to a listener that does not allow it.

It speaks just enough MQTT for that: CONNECT (with an optional Will), PUBLISH at any QoS with any
property block, PUBREL (or none: a QoS 2 flow left open), and it reads whatever the broker sends
back (PUBACK, PUBREC, PUBCOMP, DISCONNECT) on a thread, noting when the broker closes the
connection."""

from __future__ import annotations

import socket
import ssl
import struct
import threading

CONNACK, PUBLISH, PUBACK, PUBREC, PUBCOMP, DISCONNECT = 2, 3, 4, 5, 7, 14


def varint(n: int) -> bytes:
    """MQTT's Variable Byte Integer."""
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def utf8(text: str | bytes) -> bytes:
    """A length-prefixed string (or binary data)."""
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("!H", len(raw)) + raw


def packet(first_byte: int, body: bytes) -> bytes:
    return bytes([first_byte]) + varint(len(body)) + body


def empty_user_properties(count: int) -> bytes:
    """A property block of `count` empty User Properties (5 bytes each): the cheapest way to make
    a block of any length that every MQTT 5 parser must read property by property."""
    blob = b"\x26\x00\x00\x00\x00" * count
    return varint(len(blob)) + blob


class RawClient:
    """One TLS connection; `got` holds (packet type, body) of everything the broker sent."""

    def __init__(self, broker: dict, user: str, password: str, *, port: int | None = None,
                 will: tuple[str, bytes, bytes] | None = None, will_qos: int = 1, will_retain: bool = False) -> None:
        """`will`: (topic, payload, property block) of a Last Will at `will_qos`."""
        ctx = ssl.create_default_context(cafile=broker["ca"])
        raw = socket.create_connection(("localhost", port or broker["port"]))
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        self.got: list[tuple[int, bytes]] = []
        self.closed = False
        self._cond = threading.Condition()
        flags = 0x80 | 0x40 | 0x02                                    # user name, password, clean start
        will_part = b""
        if will is not None:
            topic, payload, props = will
            flags |= 0x04 | (will_qos << 3) | (0x20 if will_retain else 0)
            will_part = props + utf8(topic) + utf8(payload)
        body = utf8("MQTT") + bytes([5, flags]) + struct.pack("!H", 60) + b"\x00" + utf8("") + will_part
        self.sock.sendall(packet(0x10, body + utf8(user) + utf8(password)))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        assert self.wait(lambda: self.first(CONNACK) is not None, 10), "no CONNACK"
        self.connack = self.first(CONNACK)[1]                        # its reason code

    def _read(self) -> None:
        buf = b""
        try:
            while chunk := self.sock.recv(65536):
                buf += chunk
                while True:
                    length, mult, i = 0, 1, 1
                    while i < len(buf) and buf[i] & 0x80:
                        length += (buf[i] & 0x7F) * mult
                        mult *= 128
                        i += 1
                    if i >= len(buf):
                        break
                    length += buf[i] * mult
                    end = i + 1 + length
                    if len(buf) < end:
                        break
                    with self._cond:
                        self.got.append((buf[0] >> 4, buf[i + 1:end]))
                        self._cond.notify_all()
                    buf = buf[end:]
        except (OSError, ssl.SSLError):
            pass
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def wait(self, done, timeout: float) -> bool:
        """Whether `done()` came true within `timeout` seconds (or the connection closed first:
        false unless `done()` holds then)."""
        with self._cond:
            self._cond.wait_for(lambda: done() or self.closed, timeout)
            return bool(done())

    def first(self, kind: int, mid: int | None = None) -> bytes | None:
        """The body of the first packet of `kind` received (for `mid`, when given), or None."""
        for t, body in list(self.got):
            if t == kind and (mid is None or struct.unpack("!H", body[:2])[0] == mid):
                return body
        return None

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, mid: int = 1, retain: bool = False,
                properties: bytes = b"\x00") -> None:
        head = utf8(topic) + (struct.pack("!H", mid) if qos else b"")
        self.sock.sendall(packet(0x30 | (qos << 1) | (1 if retain else 0), head + properties + payload))

    def pubrel(self, mid: int) -> None:
        """The second half of a QoS 2 flow: release the message sent under `mid`."""
        self.sock.sendall(packet(0x62, struct.pack("!H", mid)))

    def ack_code(self, kind: int, mid: int, timeout: float = 10.0) -> int | None:
        """The reason code of the PUBACK or PUBREC (`kind`) for `mid`, or None when none came (the
        broker closed the connection instead)."""
        if not self.wait(lambda: self.first(kind, mid) is not None, timeout):
            return None
        body = self.first(kind, mid)
        return body[2] if len(body) > 2 else 0

    def drop(self) -> None:
        """Close the socket without DISCONNECT: the broker publishes the Will. Shut down first: a
        close alone leaves the connection open while the reading thread is blocked in recv. Closed
        once that thread has ended: closed under it, the socket's descriptor may be the next
        connection's, whose TLS handshake it would then read."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._reader.join(5)
        self.sock.close()

    def close(self) -> None:
        try:
            self.sock.sendall(b"\xe0\x00")
        except OSError:
            pass
        self.drop()
