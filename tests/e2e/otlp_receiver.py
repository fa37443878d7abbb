#!/usr/bin/env python3
"""A stand-in OTLP/HTTP collector for the end-to-end tests.

    otlp_receiver.py [--delay SECONDS] [--headers FILE] PORTFILE OUTFILE

Binds 127.0.0.1 on a free port and writes the port to PORTFILE (written to
a temporary name and renamed, so a reader never sees half a number). Each
POST /v1/traces body is appended to OUTFILE as one line (bodies are JSON,
which holds no raw newline; one is replaced just in case) and flushed, then
answered 200 with {}. Any other path gets 404. --delay makes every answer
wait that long first (a slow collector). --headers appends the request
headers of each accepted POST to FILE as one JSON object per line (names
lowercased), so a test can check what the exporter sent. Standard library
only.
"""

import argparse
import http.server
import json
import os
import signal
import sys
import threading
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--delay", type=float, default=0.0, help="seconds to wait before answering")
    ap.add_argument("--headers", metavar="FILE", help="append each POST's headers as a JSON line")
    ap.add_argument("portfile")
    ap.add_argument("outfile")
    args = ap.parse_args()

    out = open(args.outfile, "ab")
    hdr_out = open(args.headers, "a") if args.headers else None
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as collectors do

        def _answer(self, status, body):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            if self.path.split("?", 1)[0] != "/v1/traces":
                self._answer(404, b'{"error":"not found"}')
                return
            with lock:
                if hdr_out is not None:
                    hdr_out.write(json.dumps({k.lower(): v for k, v in self.headers.items()}) + "\n")
                    hdr_out.flush()
                out.write(body.replace(b"\n", b" ") + b"\n")
                out.flush()
            if args.delay > 0:
                time.sleep(args.delay)
            self._answer(200, b"{}")

        def do_GET(self):
            self._answer(404, b'{"error":"not found"}')

        def log_message(self, fmt, *a):  # quiet: the tests read OUTFILE
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    tmp = args.portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(tmp, args.portfile)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        srv.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        out.close()
        if hdr_out is not None:
            hdr_out.close()


if __name__ == "__main__":
    main()
