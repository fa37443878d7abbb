#!/usr/bin/env python3
"""Load clients, pollers and a hung collector for tests/e2e/faults.sh.

    faults_client.py register BASE OUT [--clients N] [--duration S]
                     [--key-timeout S] [--prefix P]
        N clients register actors for S seconds: POST /actors with a body
        {"name": ...} and an Idempotency-Key of its own per actor, retrying
        the same key and body (after 100-200 ms) until a 201, for at most
        --key-timeout seconds per key. One JSON line per key in OUT: key,
        name, client, actor_id (null when no 201 came), attempts, codes
        (status -> count), ms (first attempt to 201 or giving up), unexpected
        (a few answers other than 201, 409, 502 and 503).
    faults_client.py verify BASE IN [--threads N] [--replay-every K]
        For every key of a register file: GET /actors/{actor_id} must be 200
        with that id and name. For every key that took more than one attempt
        and every K-th of the others, the same POST again (same key, same
        body) must replay 201 with the same actor_id. Prints a JSON summary
        (checked, get_ok, replayed, replay_ok, bad: a few failures).
    faults_client.py load BASE OUT STOPFILE --routes R,R... [--threads N]
                     [--known-id ID] [--pause MS]
        Request loop until STOPFILE exists; each thread goes round the routes
        (health: GET /health, post: POST /actors, get: GET /actors/ID, list:
        GET /actors?limit=10, nope: GET /nope). One JSON line per answer in
        OUT: t0, t1 (wall clock ns), route, status, ra (Retry-After), ct,
        body (answers other than the route's 2xx only).
    faults_client.py load-report IN [--down-ns N --up-ns N --settled-ns N]
        Summary of a load file as JSON (see load_report).
    faults_client.py kill-children BASE PID... [--cursor C] [--timeout S]
        SIGKILLs the pids, then polls GET /metrics until it answers 200
        while it registers an actor and polls GET /actors?limit=100 (from
        cursor C, following next_cursor) until that actor is listed; prints
        {"metrics_ms", "requests_total", "reg_status", "actor_id",
        "listed_ms", "pages"}.
    faults_client.py tail-cursor BASE
        Prints the cursor of GET /actors?limit=100 that leads to its last
        page (empty when there is only one page).
    faults_client.py blackhole PORTFILE COUNTFILE
        A collector that accepts connections, reads what is sent and never
        answers. COUNTFILE holds "connections bytes", rewritten on each event.
    faults_client.py replacements LOGFILE KIND
        For every master.child_exited of KIND by SIGKILL in a corad log, the
        time until the next master.child_started of KIND; prints JSON.

Each client thread keeps its connection to nginx alive and opens another
after an error. Standard library only.
"""

import argparse
import datetime
import http.client
import json
import os
import random
import socket
import sys
import threading
import time
import urllib.parse

EXPECTED = {"health": 200, "post": 201, "get": 200, "list": 200, "nope": 404}


class Session:
    """Requests on one kept-alive connection, opened again after an error."""

    def __init__(self, base, timeout=30):
        u = urllib.parse.urlsplit(base)
        self.host, self.port, self.timeout = u.hostname, u.port, timeout
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        """(status, headers, body); status 0 when no answer came
        (connection refused, reset, timeout)."""
        h = dict(headers or {})
        if body is not None:
            h.setdefault("Content-Type", "application/json")
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.conn.request(method, path, body=body, headers=h)
            resp = self.conn.getresponse()
            data = resp.read()
            if resp.will_close:
                self.close()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        except (OSError, http.client.HTTPException) as e:
            self.close()
            return 0, {}, repr(e).encode()

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None


def jline(o):
    return json.dumps(o, separators=(",", ":"), sort_keys=True)


# --- register / verify -----------------------------------------------------------

def cmd_register(a):
    stop_at = time.monotonic() + a.duration
    out = []
    lock = threading.Lock()

    def client(c):
        rnd = random.Random(os.getpid() * 100 + c)
        sess = Session(a.base, timeout=a.key_timeout)
        n = 0
        while time.monotonic() < stop_at:
            key = "%s-c%d-%d" % (a.prefix, c, n)
            name = "Storm %d.%d" % (c, n)
            body = json.dumps({"name": name}).encode()
            t0 = time.monotonic()
            rec = {"key": key, "name": name, "client": c, "actor_id": None,
                   "attempts": 0, "codes": {}, "unexpected": []}
            while True:
                st, hd, data = sess.request("POST", "/actors", body, {"Idempotency-Key": key})
                rec["attempts"] += 1
                rec["codes"][str(st)] = rec["codes"].get(str(st), 0) + 1
                if st == 201:
                    try:
                        rec["actor_id"] = json.loads(data)["actor_id"]
                    except (ValueError, KeyError, TypeError):
                        rec["unexpected"].append("201 without actor_id: %r" % data[:200])
                    if rec["actor_id"]:
                        break
                elif st not in (409, 502, 503) and len(rec["unexpected"]) < 3:
                    rec["unexpected"].append("%d %s" % (st, data[:200].decode("utf-8", "replace")))
                if time.monotonic() - t0 > a.key_timeout:
                    break
                time.sleep(rnd.uniform(0.1, 0.2))
            rec["ms"] = int((time.monotonic() - t0) * 1000)
            with lock:
                out.append(rec)
            n += 1

    threads = [threading.Thread(target=client, args=(c,)) for c in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(a.out, "w") as f:
        for r in out:
            f.write(jline(r) + "\n")


def run_parallel(items, nthreads, fn):
    it = iter(items)
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                try:
                    x = next(it)
                except StopIteration:
                    return
            fn(x)

    ts = [threading.Thread(target=worker) for _ in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def cmd_verify(a):
    recs = [json.loads(line) for line in open(a.infile) if line.strip()]
    recs = [r for r in recs if r.get("actor_id")]
    # Replayed: every key that needed more than one attempt (the ones a kill
    # interrupted) and every --replay-every'th of the others.
    replay = [r for i, r in enumerate(recs) if r["attempts"] > 1 or i % a.replay_every == 0]
    res = {"checked": len(recs), "get_ok": 0, "replayed": len(replay), "replay_ok": 0, "bad": []}
    lock = threading.Lock()
    local = threading.local()

    def session():
        if not hasattr(local, "s"):
            local.s = Session(a.base)
        return local.s

    def bad(msg):
        with lock:
            if len(res["bad"]) < 5:
                res["bad"].append(msg)

    def check_get(r):
        aid = r["actor_id"]
        st, _, data = session().request("GET", "/actors/" + aid)
        try:
            d = json.loads(data)
            good = st == 200 and d.get("id") == aid and d.get("name") == r["name"]
        except (ValueError, AttributeError):
            good = False
        with lock:
            res["get_ok"] += good
        if not good:
            bad("GET /actors/%s: %d %s" % (aid, st, data[:200].decode("utf-8", "replace")))

    def check_replay(r):
        body = json.dumps({"name": r["name"]}).encode()
        st, _, data = session().request("POST", "/actors", body, {"Idempotency-Key": r["key"]})
        try:
            good = st == 201 and json.loads(data).get("actor_id") == r["actor_id"]
        except (ValueError, AttributeError):
            good = False
        with lock:
            res["replay_ok"] += good
        if not good:
            bad("replay %s: %d %s (expected %s)" % (
                r["key"], st, data[:200].decode("utf-8", "replace"), r["actor_id"]))

    run_parallel(recs, a.threads, check_get)
    run_parallel(replay, a.threads, check_replay)
    print(jline(res))


# --- load ---------------------------------------------------------------------------

def cmd_load(a):
    routes = a.routes.split(",")
    out = []
    lock = threading.Lock()
    pause = a.pause / 1000.0

    def worker(i):
        sess = Session(a.base, timeout=15)
        n = 0
        k = i
        while not os.path.exists(a.stopfile):
            route = routes[k % len(routes)]
            k += 1
            body = None
            headers = {}
            if route == "health":
                method, path = "GET", "/health"
            elif route == "post":
                method, path = "POST", "/actors"
                body = json.dumps({"name": "Load %d.%d" % (i, n)}).encode()
                n += 1
            elif route == "get":
                method, path = "GET", "/actors/" + a.known_id
            elif route == "list":
                method, path = "GET", "/actors?limit=10"
            else:
                method, path = "GET", "/nope"
            t0 = time.time_ns()
            st, hd, data = sess.request(method, path, body, headers)
            t1 = time.time_ns()
            rec = {"t0": t0, "t1": t1, "route": route, "status": st,
                   "ra": hd.get("retry-after"), "ct": hd.get("content-type")}
            if st != EXPECTED[route]:
                rec["body"] = data[:300].decode("utf-8", "replace")
            with lock:
                out.append(rec)
            if pause > 0:
                time.sleep(pause)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(a.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.sort(key=lambda r: r["t0"])
    with open(a.out, "w") as f:
        for r in out:
            f.write(jline(r) + "\n")


def is_unavailable(r):
    """The database-unavailable answer: JSON 503 with a positive Retry-After."""
    if r["status"] != 503:
        return False
    try:
        body = json.loads(r.get("body") or "")
    except ValueError:
        return False
    ra = r.get("ra") or ""
    return (body == {"detail": "Database unavailable"} and ra.isdigit() and int(ra) > 0
            and (r.get("ct") or "").split(";")[0].strip() == "application/json")


def load_report(recs, down_ns=None, up_ns=None, settled_ns=None):
    """total, codes (route -> status -> count), bad (answers that are neither
    the route's 2xx nor, for a database route, the database-unavailable
    503; /health must always be 200), and with the outage times: window_db /
    window_db_503 (database routes sent after PostgreSQL was down and
    answered before it was started again; the ones that are the proper
    503), window_health / window_health_200, first_2xx_ms (from up_ns to the
    first 2xx answer of a database route at or after it), settled_db /
    settled_db_2xx (database routes sent after settled_ns), window_max_ms
    (slowest answer in the window)."""
    rep = {"total": len(recs), "codes": {}, "bad": 0, "bad_examples": []}
    for r in recs:
        c = rep["codes"].setdefault(r["route"], {})
        c[str(r["status"])] = c.get(str(r["status"]), 0) + 1
        good = r["status"] == EXPECTED[r["route"]] or (r["route"] != "health" and is_unavailable(r))
        if not good:
            rep["bad"] += 1
            if len(rep["bad_examples"]) < 5:
                rep["bad_examples"].append(r)
    if down_ns is None:
        return rep
    db = [r for r in recs if r["route"] != "health"]
    win = [r for r in recs if r["t0"] >= down_ns and r["t1"] <= up_ns]
    wdb = [r for r in win if r["route"] != "health"]
    wh = [r for r in win if r["route"] == "health"]
    rep["window_db"] = len(wdb)
    rep["window_db_503"] = sum(1 for r in wdb if is_unavailable(r))
    rep["window_health"] = len(wh)
    rep["window_health_200"] = sum(1 for r in wh if r["status"] == 200)
    rep["window_max_ms"] = max([(r["t1"] - r["t0"]) // 1000000 for r in win] or [0])
    after = sorted((r["t1"] for r in db if r["t1"] >= up_ns and 200 <= r["status"] < 300))
    rep["first_2xx_ms"] = (after[0] - up_ns) // 1000000 if after else None
    st = [r for r in db if r["t0"] >= settled_ns]
    rep["settled_db"] = len(st)
    rep["settled_db_2xx"] = sum(1 for r in st if 200 <= r["status"] < 300)
    return rep


def cmd_load_report(a):
    recs = [json.loads(line) for line in open(a.infile) if line.strip()]
    print(jline(load_report(recs, a.down_ns, a.up_ns, a.settled_ns)))


# --- pollers -------------------------------------------------------------------------

def requests_total(text):
    s = 0
    for line in text.splitlines():
        if line.startswith("http_requests_total{"):
            s += int(float(line.rsplit(None, 1)[1]))
    return s


def cmd_kill_children(a):
    """SIGKILLs the given pids, then at once: polls GET /metrics every 50 ms
    until it answers 200 (in a thread), registers an actor, and polls GET
    /actors (from --cursor) until that actor is listed. Prints JSON:
    metrics_ms (kill to the first 200), requests_total (of that answer),
    reg_status, actor_id, listed_ms (the 201 to the listing), pages."""
    res = {"metrics_ms": None, "requests_total": None, "listed_ms": None, "pages": 0}
    t_kill = time.monotonic()
    for p in a.pids:
        os.kill(p, 9)

    def metrics():
        s = Session(a.base, timeout=a.timeout)
        while time.monotonic() - t_kill < a.timeout:
            st, _, data = s.request("GET", "/metrics")
            if st == 200:
                res["metrics_ms"] = int((time.monotonic() - t_kill) * 1000)
                res["requests_total"] = requests_total(data.decode("utf-8", "replace"))
                return
            time.sleep(0.05)

    th = threading.Thread(target=metrics)
    th.start()
    s = Session(a.base)
    st, _, data = s.request("POST", "/actors", json.dumps({"name": "Right after the kill"}).encode())
    t_reg = time.monotonic()
    res["reg_status"] = st
    try:
        aid = json.loads(data)["actor_id"]
    except (ValueError, KeyError, TypeError):
        aid = None
    res["actor_id"] = aid
    while aid and time.monotonic() - t_reg < a.timeout and res["listed_ms"] is None:
        cursor = a.cursor
        while True:
            q = {"limit": "100"}
            if cursor:
                q["cursor"] = cursor
            st, _, data = s.request("GET", "/actors?" + urllib.parse.urlencode(q))
            res["pages"] += 1
            if st != 200:
                break
            d = json.loads(data)
            if any(it.get("actor_id") == aid for it in d.get("items", [])):
                res["listed_ms"] = int((time.monotonic() - t_reg) * 1000)
                break
            cursor = d.get("next_cursor")
            if not cursor:
                break
        if res["listed_ms"] is None:
            time.sleep(0.05)
    th.join()
    print(jline(res))


def cmd_tail_cursor(a):
    """Prints the cursor that leads to the last page of GET /actors?limit=100
    (empty when there is one page): later actors are listed from it on."""
    cursor = ""
    s = Session(a.base)
    while True:
        q = {"limit": "100"}
        if cursor:
            q["cursor"] = cursor
        st, _, data = s.request("GET", "/actors?" + urllib.parse.urlencode(q))
        if st != 200:
            sys.exit("GET /actors: %d %r" % (st, data[:200]))
        nxt = json.loads(data).get("next_cursor")
        if not nxt:
            print(cursor)
            return
        cursor = nxt


# --- a collector that never answers -----------------------------------------------------

def cmd_blackhole(a):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(128)
    state = {"conns": 0, "bytes": 0}
    lock = threading.Lock()
    held = []

    def save():
        tmp = a.countfile + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d %d\n" % (state["conns"], state["bytes"]))
        os.replace(tmp, a.countfile)

    def drain(s):
        while True:
            try:
                b = s.recv(65536)
            except OSError:
                return
            if not b:
                return	# the peer closed; keep the socket (never answer)
            with lock:
                state["bytes"] += len(b)
                save()

    save()
    tmp = a.portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    os.replace(tmp, a.portfile)
    while True:
        s, _ = srv.accept()
        held.append(s)
        with lock:
            state["conns"] += 1
            save()
        threading.Thread(target=drain, args=(s,), daemon=True).start()


# --- the master's replacements ---------------------------------------------------------

def ts_of(line):
    return datetime.datetime.strptime(line["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")


def cmd_replacements(a):
    exits, starts = [], []
    for raw in open(a.logfile, errors="replace"):
        try:
            o = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(o, dict) or o.get("kind") != a.kind:
            continue
        if o.get("event") == "master.child_exited" and o.get("signal") == "SIGKILL":
            exits.append(ts_of(o))
        elif o.get("event") == "master.child_started":
            starts.append(ts_of(o))
    delays, j = [], 0
    for e in exits:
        while j < len(starts) and starts[j] < e:
            j += 1
        if j == len(starts):
            break
        delays.append((starts[j] - e).total_seconds() * 1000)
        j += 1
    print(jline({"exits": len(exits), "replaced": len(delays),
                 "max_ms": round(max(delays), 1) if delays else None,
                 "mean_ms": round(sum(delays) / len(delays), 1) if delays else None}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("register")
    p.add_argument("base")
    p.add_argument("out")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--duration", type=float, default=20)
    p.add_argument("--key-timeout", type=float, default=30)
    p.add_argument("--prefix", default="storm")
    p.set_defaults(fn=cmd_register)
    p = sub.add_parser("verify")
    p.add_argument("base")
    p.add_argument("infile")
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--replay-every", type=int, default=10)
    p.set_defaults(fn=cmd_verify)
    p = sub.add_parser("load")
    p.add_argument("base")
    p.add_argument("out")
    p.add_argument("stopfile")
    p.add_argument("--routes", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--known-id", default="")
    p.add_argument("--pause", type=float, default=0, help="milliseconds between requests")
    p.set_defaults(fn=cmd_load)
    p = sub.add_parser("load-report")
    p.add_argument("infile")
    p.add_argument("--down-ns", type=int)
    p.add_argument("--up-ns", type=int)
    p.add_argument("--settled-ns", type=int)
    p.set_defaults(fn=cmd_load_report)
    p = sub.add_parser("kill-children")
    p.add_argument("base")
    p.add_argument("pids", type=int, nargs="+")
    p.add_argument("--cursor", default="")
    p.add_argument("--timeout", type=float, default=6)
    p.set_defaults(fn=cmd_kill_children)
    p = sub.add_parser("tail-cursor")
    p.add_argument("base")
    p.set_defaults(fn=cmd_tail_cursor)
    p = sub.add_parser("blackhole")
    p.add_argument("portfile")
    p.add_argument("countfile")
    p.set_defaults(fn=cmd_blackhole)
    p = sub.add_parser("replacements")
    p.add_argument("logfile")
    p.add_argument("kind")
    p.set_defaults(fn=cmd_replacements)
    a = ap.parse_args()
    a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
