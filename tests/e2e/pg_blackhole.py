#!/usr/bin/env python3
"""A PostgreSQL server that lets a client log in and then never answers,
for the tests of corad's bounded waits (a frozen backend, a pooler out of
server connections).

    pg_blackhole.py LISTEN_SOCKET SERVER_SOCKET [STATEMENT]

Relays each connection made to LISTEN_SOCKET to the server's Unix socket
until the server first says it is ready for a query (its first
ReadyForQuery message); from then on it takes what the client sends and
passes none of it on. The client must not ask for TLS or GSS encryption
(sslmode=disable, gssencmode=disable): the server's answers are read as
protocol messages from the first byte.

With STATEMENT, a prepared statement's name, the session is relayed whole
until the client binds that statement (a Bind message naming it, on the
unnamed portal); from that message on nothing passes either way: a server
that stops answering at that very statement.
"""
import os
import re
import selectors
import socket
import sys
import threading


def relay(client, server_path, statement):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.connect(server_path)
    sel = selectors.DefaultSelector()
    sel.register(client, selectors.EVENT_READ)
    sel.register(server, selectors.EVENT_READ)
    pending, ready, silent = b"", False, False
    bind = None
    if statement is not None:
        bind = re.compile(b"B.{4}\\x00" + re.escape(statement.encode()) + b"\\x00", re.DOTALL)
    try:
        while True:
            for key, _ in sel.select():
                data = key.fileobj.recv(65536)
                if not data:
                    return
                if key.fileobj is client:
                    if bind is not None and bind.search(data):
                        silent = True
                    if not ready and not silent:
                        server.sendall(data)
                    continue
                if silent:
                    continue
                client.sendall(data)
                if bind is not None:
                    continue
                pending += data
                while not ready and len(pending) >= 5:
                    size = int.from_bytes(pending[1:5], "big")
                    if len(pending) < 1 + size:
                        break
                    ready = pending[0] == ord("Z")
                    pending = pending[1 + size:]
    except OSError:
        return
    finally:
        client.close()
        server.close()


def main():
    listen_path, server_path = sys.argv[1], sys.argv[2]
    statement = sys.argv[3] if len(sys.argv) > 3 else None
    if os.path.exists(listen_path):
        os.unlink(listen_path)
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(listen_path)
    lsock.listen(16)
    while True:
        client, _ = lsock.accept()
        threading.Thread(target=relay, args=(client, server_path, statement), daemon=True).start()


if __name__ == "__main__":
    main()
