#!/usr/bin/env python3
"""A FastCGI peer that sends a request's head badly, for the end-to-end
tests of the head corad checks before libfcgi reads it.

    fcgi_head_client.py MODE ADDRESS [HOLD [READY]]

MODE: silent (connect, send nothing), half (5 bytes of the begin record),
lengths (a pair whose name and value claim 2^30 bytes each), nul (a NUL in
a parameter's value), big (parameters of 100,000 bytes), tiny (parameters
of 10,000 bytes in records of one byte each: 160,000 bytes of records),
large (a GET /health whose parameters take 60,000 bytes: within the
bound), abort (an FCGI_ABORT_REQUEST before the parameters end), unread
(a GET of $UNREAD_PATH whose answer it never reads), kept (a GET
/health that asks to keep the connection, then no next request). Then
reads until corad answers or closes, for at most HOLD seconds (default
10), and prints one line: "answered STATUS", "closed MS" (corad closed the
connection without an answer, MS milliseconds after the head was sent, or
for kept after its answer) or "open" (neither within HOLD). READY, a path,
is created once the connection is made and the head sent.
"""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fcgi_client import (ABORT_REQUEST, BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT,  # noqa: E402
                         params as pairs, record, records)


def params_records(content):
    out = b""
    for i in range(0, len(content), 32768):
        out += record(PARAMS, content[i:i + 32768])
    return out + record(PARAMS, b"")


HEALTH = [(b"REQUEST_METHOD", b"GET"), (b"DOCUMENT_URI", b"/health"), (b"REQUEST_URI", b"/health")]


def head(mode):
    begin = record(BEGIN_REQUEST, struct.pack(">HB5x", 1, 1 if mode == "kept" else 0))
    if mode == "silent":
        return b""
    if mode in ("half", "halfclose"):
        return begin[:5]
    if mode == "lengths":
        return begin + record(PARAMS, b"\xc0\x00\x00\x00\xc0\x00\x00\x00ab") + record(PARAMS, b"")
    if mode == "nul":
        return begin + params_records(pairs(HEALTH + [(b"HTTP_IDEMPOTENCY_KEY", b"a\0b")]))
    if mode == "big":
        return begin + params_records(pairs(HEALTH + [(b"HTTP_X_BIG", b"x" * 100000)]))
    if mode == "tiny":
        content = pairs(HEALTH + [(b"HTTP_X_BIG", b"x" * 10000)])
        return begin + b"".join(record(PARAMS, content[i:i + 1]) for i in range(len(content))) + \
            record(PARAMS, b"")
    if mode == "abort":
        return begin + record(PARAMS, pairs(HEALTH)) + record(ABORT_REQUEST, b"")
    if mode == "kept":
        return begin + params_records(pairs(HEALTH)) + record(STDIN, b"")
    if mode == "unread":
        path = os.environ.get("UNREAD_PATH", "/health").encode()
        uri, _, query = path.partition(b"?")
        return begin + params_records(pairs([(b"REQUEST_METHOD", b"GET"), (b"DOCUMENT_URI", uri),
                                             (b"REQUEST_URI", path), (b"QUERY_STRING", query)])) + \
            record(STDIN, b"")
    if mode == "large":
        return begin + params_records(pairs(HEALTH + [(b"HTTP_X_BIG", b"x" * 60000)])) + \
            record(STDIN, b"")
    raise SystemExit("unknown mode " + mode)


def main():
    mode, address = sys.argv[1], sys.argv[2]
    hold = float(sys.argv[3]) if len(sys.argv) > 3 else 10
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(address[5:] if address.startswith("unix:") else address)
    sent = time.monotonic()
    try:
        s.sendall(head(mode))
    except (BrokenPipeError, ConnectionResetError):	# refused before all was sent
        print("closed %d" % ((time.monotonic() - sent) * 1000))
        return
    sent = time.monotonic()
    if mode == "halfclose":	# nothing more will come
        s.shutdown(socket.SHUT_WR)
    if len(sys.argv) > 4:
        open(sys.argv[4], "w").close()
    if mode == "unread":	# a peer that never reads the answer
        time.sleep(hold)
        print("held")
        return
    s.settimeout(0.05)
    buf, out = b"", b""
    while time.monotonic() - sent < hold:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            print("closed %d" % ((time.monotonic() - sent) * 1000))
            return
        got, buf = records(buf + chunk)
        for rtype, content in got:
            if rtype == STDOUT:
                out += content
            elif rtype == END_REQUEST:
                status = out.split(b"\r\n", 1)[0].decode("latin-1")
                if mode == "kept":	# now wait for the close
                    sent, out = time.monotonic(), b""
                    continue
                print("answered " + status.replace("Status: ", "").split(" ")[0])
                return
    print("open")


if __name__ == "__main__":
    main()
