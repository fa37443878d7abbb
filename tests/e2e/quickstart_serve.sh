#!/bin/bash
# `scripts/quickstart serve`, the README's first command, with the corad
# under test (QUICKSTART_CORAD: no build), a port and a scratch directory of
# this test's own: it says which of the caller's settings it does not use,
# serves /health and a write through nginx and its private PostgreSQL,
# starts nginx only once corad's socket exists (no connect() failed in
# nginx's log), and stops everything on SIGTERM with status 0.
. "$(dirname "$0")/lib.sh"
need_tools curl

chmod 755 "$T"	# the private cluster runs as postgres under it
PORT=$(pick_port)
QS_STATE=$T/qs
URL=http://127.0.0.1:$PORT

CORA_LISTEN=unix:/nonexistent/corad.sock QUICKSTART_STATE=$QS_STATE QUICKSTART_PORT=$PORT \
	QUICKSTART_CORAD=$CORAD_BIN setsid "$CORAD_SRCDIR/scripts/quickstart" serve \
	</dev/null >"$T/serve.out" 2>&1 &
QS_PID=$!
EXTRA_PIDS+=("$QS_PID")
answers() { [[ $(http_status_of "$URL/health") == 200 ]]; }
if wait_until 60 answers; then
	pass "quickstart serve answers GET /health on 127.0.0.1:$PORT (QUICKSTART_PORT)"
else
	bail "quickstart serve answers GET /health on its port: $(tail -n 20 "$T/serve.out")"
fi
like "$(cat "$T/serve.out")" "note: your CORA_LISTEN is not used here: this run uses unix:$QS_STATE/run/corad.sock" \
	"it says that it does not use the caller's CORA_LISTEN, and what it uses"
ok "corad's socket is in the private runtime directory ($QS_STATE/run)" test -S "$QS_STATE/run/corad.sock"
ok "it did not build (QUICKSTART_CORAD)" grep -q "(QUICKSTART_CORAD): no build" "$T/serve.out"

BASE=$URL
register_body='{"target":{"kind":"Asset","id":"01900000-0000-7000-8000-0000000000a1"},"category":"Wear","severity":"Caution","text":"t","workaround":"w"}'
http POST /cautions -H 'Content-Type: application/json' --data-binary "$register_body"
is "$HTTP_STATUS" 201 "a write through nginx to the private PostgreSQL: 201"
http GET /ready
is "$HTTP_STATUS" 200 "GET /ready: 200 (migrated)"
is "$(grep -c 'connect() failed' "$QS_STATE/nginx-error.log" 2>/dev/null || true)" 0 \
	"nginx started after the socket existed: no connect() failed in its log"

kill -TERM "$QS_PID"
wait_exit "$QS_PID" 40
is "$EXIT_STATUS" 0 "SIGTERM: quickstart serve stops within 40 s, with status 0"
ok "corad said it stopped" grep -q '"master.stopped"' "$T/serve.out"
is "$(pgrep -f "$QS_STATE" | wc -l)" 0 "nothing of it keeps running (corad, nginx, PostgreSQL)"

done_testing
