"""A real HTTP server on 127.0.0.1 that answers every POST with one body, written in random
1-48-byte pieces (TCP_NODELAY, so the client really sees them apart)."""

from __future__ import annotations

import contextlib
import random
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def _read_request(conn: socket.socket) -> None:
    """Read one request (headers and a Content-Length body) so the client is not cut off."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return
        data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        piece = conn.recv(65536)
        if not piece:
            return
        rest += piece


def _serve(conn: socket.socket, body: bytes, content_type: str, seed: int) -> None:
    # the client may close as soon as it has read the terminal event
    with contextlib.suppress(OSError):
        _write(conn, body, content_type, seed)


def _write(conn: socket.socket, body: bytes, content_type: str, seed: int) -> None:
    rng = random.Random(seed)
    with conn:
        _read_request(conn)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        head = f"HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\nconnection: close\r\n\r\n"
        conn.sendall(head.encode())
        at = 0
        while at < len(body):
            size = rng.randint(1, 48)
            conn.sendall(body[at : at + size])
            at += size


@contextmanager
def loopback(body: bytes, content_type: str, seed: int) -> Iterator[str]:
    """The base URL of a server that sends ``body`` to each request, until the block ends."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.1)  # so the loop sees ``stop``
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            # a connection of its own: one the client left cannot keep the next from an answer
            threading.Thread(
                target=_serve, args=(conn, body, content_type, seed), daemon=True
            ).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        server.close()
        thread.join(timeout=5)
