#!/bin/bash
# A worker opens its database session and prepares its statements before
# it reports that it accepts (doc/design.md, "Processes"): once corad
# answers, every worker has its session, and requests that need the
# database reuse those sessions rather than connect. After a reload the
# successors have theirs, new ones, before any request; a worker recycled
# after CORA_MAX_REQUESTS likewise. A warm-up that a lock holds up is
# given up after 1 s, logged as such, and the first request tries again.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
. "$E2E_DIR/lib_access.sh"
db_setup

# sessions: the backend pids of the workers' sessions, sorted, one line.
sessions() {
	q "SELECT string_agg(pid::text, ' ' ORDER BY pid) FROM pg_stat_activity
	   WHERE application_name = 'corad-worker'"
}
count_words() { wc -w <<<"$1" | tr -d ' '; }

serve_db 3
ok "three worker sessions once corad answers" wait_until 2 workers_connected 3
before=$(sessions)
register_name "Warm"
is "$HTTP_STATUS" 201 "POST /actors: 201"
ID=$RID
for i in 1 2 3 4 5 6 7 8 9; do
	http GET "/actors/$ID"
	[[ $HTTP_STATUS == 200 ]] || break
done
is "$HTTP_STATUS" 200 "nine GET /actors/{id}: 200"
is "$(sessions)" "$before" "the requests used the sessions the workers opened at start"

# --- a reload: the successors bring their sessions -------------------------------
old_workers=$(worker_pids)
kill -HUP "$(master_pid)"
replaced() {
	local w
	[[ $(worker_count) == 3 ]] || return 1
	for w in $(worker_pids); do
		grep -qx "$w" <<<"$old_workers" && return 1
	done
	return 0
}
ok "SIGHUP replaces the three workers" wait_until 10 replaced
new_sessions() {
	local s
	s=$(sessions)
	[[ $(count_words "$s") == 3 ]] || return 1
	for s in $s; do
		grep -qw "$s" <<<"$before" && return 1
	done
	return 0
}
ok "after the reload: three sessions, none of the old ones, before any request" \
	wait_until 5 new_sessions
after=$(sessions)
http GET "/actors/$ID"
is "$HTTP_STATUS" 200 "GET /actors/{id} after the reload: 200"
is "$(sessions)" "$after" "... on a session opened before it"
cmp_ok "$(log_count db.connect_failed)" -eq 0 "no db.connect_failed"

# --- recycling: a successor is ready before its predecessor leaves ---------------
corad_stop TERM
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=1 CORA_MAX_REQUESTS=5 ||
	bail "corad starts with CORA_WORKERS=1 CORA_MAX_REQUESTS=5"
ok "one worker session once corad answers" wait_until 2 workers_connected 1
first=$(sessions)
for i in 1 2 3 4 5 6; do
	http GET "/actors/$ID"
	[[ $HTTP_STATUS == 200 ]] || break
done
is "$HTTP_STATUS" 200 "six GET /actors/{id} across a recycle: 200"
recycled() { local s; s=$(sessions); [[ $(count_words "$s") == 1 && $s != "$first" ]]; }
ok "the recycled worker's successor has its own session" wait_until 5 recycled

# --- a warm-up a lock holds up ----------------------------------------------------
corad_stop TERM
ok "another session holds ACCESS EXCLUSIVE on events" hold_lock events "ACCESS EXCLUSIVE"
t0=$(now_ms)
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=1 ||
	bail "corad starts while the lock is held"
ms=$(($(now_ms) - t0))
cmp_ok "$ms" -lt 4000 "corad starts within the warm-up's bound (${ms} ms)"
http GET /health
is "$HTTP_STATUS" 200 "GET /health while the lock is held: 200"
LINE=$(log_select db.setup_cancelled | head -n 1)
json_is "$LINE" .reason "the worker's warm-up took too long" "db.setup_cancelled says the warm-up gave up"
# The pipeline's first statement reads events: its prepare is the one
# the lock holds.
json_is "$LINE" .step load_stream "... at the prepare of load_stream"
# The abandoned prepare is a failed database call, though no request made it.
db_errors_are() { [ "$(metric cora_db_errors_total)" = "$1" ]; }
ok "cora_db_errors_total counts it: 1" wait_until 5 db_errors_are 1
release_holder
http GET "/actors/$ID"
is "$HTTP_STATUS" 200 "once the lock is gone the first request connects: 200"
ok "... on a session of its own" workers_connected 1

done_testing
