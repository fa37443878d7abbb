#!/bin/bash
# Authorization: AUTHZ_POLICY_FILE, first matching rule wins,
# the default, deny answers 403 naming the rule, logs <verb>.denied and
# writes a deny verdict to entries_access_verdicts and nothing else; an
# invalid policy file stops start-up (serve and check); without a policy
# everything is allowed.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
. "$E2E_DIR/lib_access.sh"
db_setup

# nginx passes the principal the stand-in authentication service vouches for.
nginx_server_auth main
nginx_start || bail "nginx starts"

DEFAULT_DENY="denied by the policy default (no rule matched)"

start_with() {	# start_with desc [VAR=value...]
	local desc=$1
	shift
	[[ -n $CORAD_PID ]] && alive "$CORAD_PID" && corad_stop TERM 15
	if corad_start DATABASE_URL="$PG_APP_URL" "$@"; then
		pass "$desc"
	else
		fail "$desc"
		done_testing
		exit
	fi
}
# denied PRINCIPAL COMMAND DETAIL VERB desc: checks the 403 in HTTP_*, its
# verdict row, its log line, and that nothing else was written.
denied() {
	local p=$1 cmd=$2 detail=$3 verb=$4 desc=$5 c v
	is "$HTTP_STATUS" 403 "$desc: 403"
	json_eq "$HTTP_BODY" "$(jq -cn --arg d "$detail" '{detail: $d}')" "$desc: body"
	is "$(hdr Content-Type)" application/json "$desc: application/json"
	c=$(cid)
	like "$c" "$UUID_RE" "$desc: X-Correlation-Id"
	v=$(verdict "$c")
	is "$(count_lines "$v")" 1 "$desc: one verdict row"
	json_is "$v" '[.decision, .command_name, .principal_id]' "[\"deny\",\"$cmd\",\"$p\"]" "$desc: deny verdict row"
	json_is "$v" .reason "$detail" "$desc: the verdict's reason is the 403 detail"
	ok "$desc: $verb.denied logged" \
		log_has "$verb.denied" ".correlation_id == \"$c\" and .principal_id == \"$p\" and .command_name == \"$cmd\""
	nok "$desc: no $verb.success logged" log_has "$verb.success" ".correlation_id == \"$c\""
	is "$(q "SELECT count(*) FROM events WHERE correlation_id = '$c'")" 0 "$desc: no event with its correlation id"
}

# --- policy 1: default deny, P1 may do anything, anyone may GetActor -------------
cat >"$T/policy1.json" <<EOF
{"default":"deny","rules":[
 {"principals":["$P1"],"commands":["*"],"effect":"allow"},
 {"principals":["*"],"commands":["GetActor"],"effect":"allow"}]}
EOF
start_with "corad starts with policy 1" AUTHZ_POLICY_FILE="$T/policy1.json"

register '{"name":"Ada"}' "$P1"
is "$HTTP_STATUS" 201 "policy 1: P1 registers (201)"
ID=$(json_value "$HTTP_BODY" .actor_id)
V=$(verdict "$(cid)")
json_is "$V" '[.decision, .command_name, .principal_id]' "[\"allow\",\"RegisterActor\",\"$P1\"]" "policy 1: allow verdict row for P1"
is "$(q "SELECT count(*) FROM events WHERE correlation_id = '$(cid)'")" 1 "policy 1: P1's event written"

before=$(rows)
register '{"name":"Mallory"}' "$P2"
denied "$P2" RegisterActor "RegisterActor $DEFAULT_DENY" register_actor "policy 1: P2 registers"
is "$(rows)" "$before" "policy 1: P2's register added no event or profile row"
ok "policy 1: no profile named Mallory" test "$(q "SELECT count(*) FROM actor_profile WHERE name = 'Mallory'")" = 0

register '{"name":"Nobody"}'
denied 00000000-0000-0000-0000-000000000000 RegisterActor "RegisterActor $DEFAULT_DENY" register_actor \
	"policy 1: no principal (system) registers"

as "$P2" GET "/actors/$ID"
is "$HTTP_STATUS" 200 "policy 1: P2 may GetActor (rule 2)"
json_is "$HTTP_BODY" .name Ada "policy 1: P2 reads the actor"

as "$P2" POST "/actors/$ID/deactivate"
denied "$P2" DeactivateActor "DeactivateActor $DEFAULT_DENY" deactivate_actor "policy 1: P2 deactivates"
as "$P2" DELETE "/actors/$ID/profile"
denied "$P2" ForgetActor "ForgetActor $DEFAULT_DENY" forget_actor "policy 1: P2 forgets"
as "$P2" POST "/actors/$UNKNOWN/deactivate"
is "$HTTP_STATUS" 403 "policy 1: P2 deactivating an unknown actor is 403 (authorization before the handler)"
register '{bad' "$P2"
is "$HTTP_STATUS" 422 "policy 1: P2's invalid body is 422 (validation before authorization)"
is "$(rows)" "$before" "policy 1: no row added by any denied request"

# A denied list is refused before its cursor is read: a bad cursor too is a
# 403, recorded.
as "$P2" GET "/actors?cursor=abc"
is "$HTTP_STATUS" 403 "policy 1: P2 lists with a bad cursor: 403"
json_is "$HTTP_BODY" .detail "ListActors $DEFAULT_DENY" "policy 1: P2 lists with a bad cursor: detail"
json_is "$(verdict "$(cid)")" '[.decision, .command_name, .principal_id]' "[\"deny\",\"ListActors\",\"$P2\"]" \
	"policy 1: P2 lists with a bad cursor: deny verdict row"
ok "policy 1: P2 lists with a bad cursor: list_actors.denied logged" \
	log_has list_actors.denied ".correlation_id == \"$(cid)\" and .query_name == \"ListActors\""
as "$P1" GET "/actors/$ID"
json_is "$HTTP_BODY" .active true "policy 1: the actor is still active"
as "$P1" POST "/actors/$ID/deactivate"
is "$HTTP_STATUS" 204 "policy 1: P1 deactivates (204)"

# --- policy 2: default allow, rule 1 denies P2 DeactivateActor -------------------
cat >"$T/policy2.json" <<EOF
{"default":"allow","rules":[{"principals":["$P2"],"commands":["DeactivateActor"],"effect":"deny"}]}
EOF
start_with "corad starts with policy 2" AUTHZ_POLICY_FILE="$T/policy2.json"
register '{"name":"Bob"}' "$P2"
is "$HTTP_STATUS" 201 "policy 2: P2 registers (default allow)"
ID2=$(json_value "$HTTP_BODY" .actor_id)
json_is "$(verdict "$(cid)")" '[.decision, .principal_id]' "[\"allow\",\"$P2\"]" "policy 2: allow verdict for P2's register"
before=$(rows)
as "$P2" POST "/actors/$ID2/deactivate"
denied "$P2" DeactivateActor "DeactivateActor denied by policy rule 1" deactivate_actor "policy 2: P2 deactivates"
is "$(rows)" "$before" "policy 2: the denied deactivate added no row"
as "$P1" POST "/actors/$ID2/deactivate"
is "$HTTP_STATUS" 204 "policy 2: P1 deactivates P2's actor (204)"
as "$P2" DELETE "/actors/$ID2/profile"
is "$HTTP_STATUS" 204 "policy 2: P2 may ForgetActor (204)"

# --- reload on SIGHUP -------------------------------------------------
# The rewritten policy denies P2 GetActor: probing with GET writes nothing.
cat >"$T/policy2.json" <<EOF
{"default":"allow","rules":[{"principals":["$P2"],"commands":["GetActor"],"effect":"deny"}]}
EOF
kill -HUP "$CORAD_PID"
p2_get_denied() {
	as "$P2" GET "/actors/$ID2"
	[[ $HTTP_STATUS == 403 ]]
}
ok "SIGHUP: the rewritten policy is in force (P2 GetActor 403)" wait_until 5 p2_get_denied
json_is "$HTTP_BODY" .detail "GetActor denied by policy rule 1" "SIGHUP: detail names rule 1"
ok "SIGHUP: log master.reloaded" wait_until 3 log_has master.reloaded
as "$P1" GET "/actors/$ID2"
is "$HTTP_STATUS" 200 "SIGHUP: P1 still reads"
ok "SIGHUP: the master kept running" alive "$CORAD_PID"

# --- invalid policy files stop start-up ------------------------------------------
printf '{"default":"deny","rules":[' >"$T/bad-notjson.json"
printf '{"default":"deny","rules":[{"principals":["*"],"commands":["*"],"effect":"maybe"}]}' >"$T/bad-effect.json"
printf '{"default":"deny","rules":[{"principals":["*"],"commands":["Foo"],"effect":"allow"}]}' >"$T/bad-command.json"
for f in bad-notjson bad-effect bad-command missing; do
	for cmd in serve check; do
		rm -f "$T/bad.sock"
		corad_run "$cmd-$f" "$cmd" DATABASE_URL="$PG_APP_URL" CORA_LISTEN="unix:$T/bad.sock" \
			AUTHZ_POLICY_FILE="$T/$f.json"
		isnt "$RUN_STATUS" 0 "$f policy: corad $cmd exits non-zero"
		isnt "$RUN_STATUS" timeout "$f policy: corad $cmd exits by itself"
		LOGFILE=$RUN_LOG ok "$f policy: corad $cmd logs startup.refused with gate authz_policy" \
			log_has startup.refused '.gate == "authz_policy"'
		[[ $cmd == serve ]] && is "$RUN_WORKER_SEEN" 0 "$f policy: no worker started"
	done
done
# The reasons say where: the file that cannot be opened, the line and
# column of what is not JSON.
corad_run check-missing-again check DATABASE_URL="$PG_APP_URL" AUTHZ_POLICY_FILE="$T/missing.json"
is "$(LOGFILE=$RUN_LOG log_select startup.refused | jq -r .reason)" \
	"AUTHZ_POLICY_FILE: cannot open $T/missing.json: No such file or directory" "missing policy: cannot open FILE: reason"
corad_run check-notjson-again check DATABASE_URL="$PG_APP_URL" AUTHZ_POLICY_FILE="$T/bad-notjson.json"
is "$(LOGFILE=$RUN_LOG log_select startup.refused | jq -r .reason)" \
	"AUTHZ_POLICY_FILE: $T/bad-notjson.json line 1 column 28: the file ends before the JSON does" \
	"policy that is not JSON: FILE line L column C: what is wrong"

# --- the shipped example, and the names the manual lists -------------------------
corad_run check-example check DATABASE_URL="$PG_APP_URL" \
	AUTHZ_POLICY_FILE="$CORAD_SRCDIR/deploy/policy/corad-policy.json"
is "$RUN_STATUS" 0 "the example policy deploy/policy/corad-policy.json loads (corad check)"
NAMES=$("$CORAD_BIN" openapi | jq -r '[.paths[][] | select(.tags) | .operationId] | sort | join(" ")')
MAN_NAMES=$(sed -n '/^are command and query names or$/,/^An example/p' "$CORAD_SRCDIR/doc/corad.8" |
	awk '$1 == ".BR" || $1 == ".B" { sub(/^\.BR? /, ""); sub(/ .*$/, ""); print }' | grep -v '^\*' | sort | tr '\n' ' ')
is "$MAN_NAMES" "$NAMES " "corad(8) lists every command and query name a policy may use"

# --- no policy: everything allowed ----------------------------------------------
start_with "corad starts without a policy"
register '{"name":"Dave"}' "$P2"
is "$HTTP_STATUS" 201 "no policy: P2 registers"
V=$(verdict "$(cid)")
json_is "$V" '[.decision, .command_name, .principal_id, .reason]' \
	"[\"allow\",\"RegisterActor\",\"$P2\",\"no authorization policy configured\"]" "no policy: allow verdict and its reason"
ID4=$(json_value "$HTTP_BODY" .actor_id)
as "$P2" POST "/actors/$ID4/deactivate"
is "$HTTP_STATUS" 204 "no policy: P2 deactivates"
json_is "$(verdict "$(cid)")" '[.decision, .command_name, .reason]' \
	'["allow","DeactivateActor","no authorization policy configured"]' "no policy: deactivate verdict"

done_testing
