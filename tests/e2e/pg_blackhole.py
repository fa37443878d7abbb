#!/usr/bin/env python3
"""A PostgreSQL server that lets a client log in and then never answers,
for the tests of corad's bounded waits (a frozen backend, a pooler out of
server connections).

    pg_blackhole.py LISTEN_SOCKET SERVER_SOCKET

Relays each connection made to LISTEN_SOCKET to the server's Unix socket
until the server first says it is ready for a query (its first
ReadyForQuery message); from then on it takes what the client sends and
passes none of it on. The client must not ask for TLS or GSS encryption
(sslmode=disable, gssencmode=disable): the server's answers are read as
protocol messages from the first byte.
"""
import os
import selectors
import socket
import sys
import threading


def relay(client, server_path):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.connect(server_path)
    sel = selectors.DefaultSelector()
    sel.register(client, selectors.EVENT_READ)
    sel.register(server, selectors.EVENT_READ)
    pending, ready = b"", False
    try:
        while True:
            for key, _ in sel.select():
                data = key.fileobj.recv(65536)
                if not data:
                    return
                if key.fileobj is client:
                    if not ready:
                        server.sendall(data)
                    continue
                client.sendall(data)
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
    if os.path.exists(listen_path):
        os.unlink(listen_path)
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(listen_path)
    lsock.listen(16)
    while True:
        client, _ = lsock.accept()
        threading.Thread(target=relay, args=(client, server_path), daemon=True).start()


if __name__ == "__main__":
    main()
