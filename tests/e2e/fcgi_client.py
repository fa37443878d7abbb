#!/usr/bin/env python3
"""A FastCGI client for the end-to-end tests: one request, with pauses a
proxy would not make, to corad's socket (unix:/path or host:port).

    fcgi_client.py [--connect-wait S] [--pause S] ADDRESS NAME=VALUE... < body

--connect-wait: connect, then send nothing for S seconds (a silent client);
--pause: send the begin record and the parameters, then wait S seconds
before the body; --hold: after the answer, keep the connection open for S
seconds before closing it (a peer that does not hang up). Prints the response (CGI headers and body) on stdout and
exits 0, or exits 3 when corad closed the connection without an answer.
"""
import argparse
import socket
import struct
import sys
import time

BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT = 1, 2, 3, 4, 5, 6
RESPONDER = 1
REQUEST_ID = 1


def record(rtype, content):
    pad = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBB", 1, rtype, REQUEST_ID, len(content), pad, 0) + content + b"\0" * pad


def length(n):
    return struct.pack(">B", n) if n < 128 else struct.pack(">I", n | 0x80000000)


def params(pairs):
    out = b""
    for name, value in pairs:
        out += length(len(name)) + length(len(value)) + name + value
    return out


def records(buf):
    """The whole records at the start of buf, as (type, content), and the rest."""
    out = []
    while len(buf) >= 8:
        _, rtype, _, clen, plen, _ = struct.unpack(">BBHHBB", buf[:8])
        if len(buf) < 8 + clen + plen:
            break
        out.append((rtype, buf[8:8 + clen]))
        buf = buf[8 + clen + plen:]
    return out, buf


def connect(address):
    if address.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(address[5:])
    else:
        host, port = address.rsplit(":", 1)
        s = socket.create_connection((host, int(port)))
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connect-wait", type=float, default=0)
    ap.add_argument("--pause", type=float, default=0)
    ap.add_argument("--hold", type=float, default=0)
    ap.add_argument("address")
    ap.add_argument("params", nargs="*")
    a = ap.parse_args()
    pairs = []
    for p in a.params:
        name, _, value = p.partition("=")
        pairs.append((name.encode(), value.encode("utf-8", "surrogateescape")))
    body = sys.stdin.buffer.read()

    s = connect(a.address)
    s.settimeout(60)
    time.sleep(a.connect_wait)
    head = record(BEGIN_REQUEST, struct.pack(">HB5x", RESPONDER, 0))
    head += record(PARAMS, params(pairs)) + record(PARAMS, b"")
    s.sendall(head)
    time.sleep(a.pause)
    for i in range(0, len(body), 32768):
        s.sendall(record(STDIN, body[i:i + 32768]))
    s.sendall(record(STDIN, b""))

    buf, out, ended = b"", b"", False
    while not ended:
        chunk = s.recv(65536)
        if not chunk:
            break
        got, buf = records(buf + chunk)
        for rtype, content in got:
            if rtype == STDOUT:
                out += content
            elif rtype == END_REQUEST:
                ended = True
    sys.stdout.buffer.write(out)
    sys.stdout.flush()
    if not ended:
        sys.exit(3)
    time.sleep(a.hold)


if __name__ == "__main__":
    main()
