#!/usr/bin/env python3
"""Sends standard input as it is over one TCP connection to 127.0.0.1:PORT
and prints what comes back until the server closes the connection (15 s at
most): for requests curl would not send, or would repair."""
import socket
import sys

s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=15)
s.sendall(sys.stdin.buffer.read())
out = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
except (socket.timeout, ConnectionResetError) as e:
    sys.stderr.write("raw: %s\n" % e)
sys.stdout.buffer.write(out)
