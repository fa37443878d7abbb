#!/bin/bash
# A leader whose host vanishes (doc/design.md, "Projections"): instance a
# runs in a network namespace of its own and reaches PostgreSQL over TCP
# through a veth pair; its projector leads. When a's link goes down (a
# host cut off, powered off: no FIN, no RST), the server's keepalive probes
# go unanswered, it ends a's session within a minute and so releases the
# advisory lock, and instance b's projector takes the lead: the lists move
# again. The system's own keepalive would wait two hours.
#
# No nginx: requests go straight to each instance's FastCGI socket.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
need_tools cgi-fcgi ip

# The namespace and the link: 198.18.0.0/15 is set aside for tests of
# network devices (RFC 2544), so no real network uses it.
NS=corad-fo-$$
VETH_H=vfoh$$
VETH_N=vfon$$
NET=198.18.231
stop_servers() {
	ip netns del "$NS" 2>/dev/null
	ip link del "$VETH_H" 2>/dev/null
	return 0
}
ip netns add "$NS" || bail "a network namespace can be made (ip netns add, as root)"
ip link add "$VETH_H" type veth peer name "$VETH_N" &&
	ip addr add "$NET.1/24" dev "$VETH_H" && ip link set "$VETH_H" up &&
	ip link set "$VETH_N" netns "$NS" &&
	ip netns exec "$NS" ip addr add "$NET.2/24" dev "$VETH_N" &&
	ip netns exec "$NS" ip link set "$VETH_N" up &&
	ip netns exec "$NS" ip link set lo up || bail "the veth pair into the namespace"
pass "instance a's host: a network namespace with a veth link to PostgreSQL's"

PG_LISTEN=$NET.1
db_setup
echo "host all all $NET.0/24 trust" >>"$PG_DIR/data/pg_hba.conf"
q "SELECT pg_reload_conf()" >/dev/null
A_URL="postgresql://cora_app@$NET.1:5432/cora"
ok "cora_app connects over TCP from the namespace" \
	ip netns exec "$NS" psql -qAtX "$A_URL" -c "SELECT 1"

LOG_A=$T/corad-a.log
LOG_B=$T/corad-b.log
SOCK_A=$T/a.sock
SOCK_B=$T/b.sock
REAL_CORAD=$CORAD_BIN
cat >"$T/corad-in-ns" <<EOF
#!/bin/bash
exec ip netns exec "$NS" "$REAL_CORAD" "\$@"
EOF
chmod +x "$T/corad-in-ns"

# start_instance a|b URL: a corad of its own (socket, runtime dir, log).
start_instance() {
	local sock=$T/$1.sock
	CORA_SOCK=$sock CORA_LISTEN=unix:$sock CORA_RUNTIME_DIR=$T/run-$1 CORAD_LOG=$T/corad-$1.log \
		corad_start DATABASE_URL="$2" CORA_WORKERS=1 PROJECTION_POLL_INTERVAL_SECONDS=0.5
}
CORAD_BIN=$T/corad-in-ns
start_instance a "$A_URL" || bail "instance a starts in the namespace"
CORAD_BIN=$REAL_CORAD
pass "instance a starts in the namespace"
ok "instance a's projector leads" wait_until 5 eval 'LOGFILE=$LOG_A log_has projection.leader'
PROJ_A=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = 'corad-projector'")
is "$(q "SELECT count(*) FROM pg_stat_activity WHERE pid = '$PROJ_A' AND client_addr = '$NET.2'")" 1 \
	"its session comes over TCP from the namespace"
start_instance b "$PG_APP_URL" || bail "instance b starts"
pass "instance b starts"

# freg SOCK NAME: POST /actors on that socket; sets RID.
freg() {
	local body="{\"name\":\"$2\"}"
	printf '%s' "$body" >"$T/freg.json"	# not a pipe: fcgi must run in this shell
	FCGI_SOCK=$1 fcgi REQUEST_METHOD=POST DOCUMENT_URI=/actors REQUEST_URI=/actors \
		QUERY_STRING= CONTENT_TYPE=application/json CONTENT_LENGTH=${#body} <"$T/freg.json"
	RID=$(json_value "$FCGI_BODY" .actor_id)
	[[ $FCGI_STATUS == 201 && $RID =~ $UUID_RE ]]
}
projected() { [[ $(q "SELECT count(*) FROM proj_access_actor_summary WHERE actor_id = '$1'") == 1 ]]; }

ok "register through instance b" freg "$SOCK_B" "Before the cut"
ok "listed within 3 s: a's projector projects it" wait_until 3 projected "$RID"
nok "b's projector is a standby" eval 'LOGFILE=$LOG_B log_has projection.leader'

# The cut: a's end of the link goes down. Nothing reaches PostgreSQL
# from a any more, and nothing of PostgreSQL's reaches a.
ip netns exec "$NS" ip link set "$VETH_N" down
t0=$(date +%s)
ok "register through instance b after a's host is cut off" freg "$SOCK_B" "After the cut"
AFTER=$RID
# idle 10 s + 3 probes 5 s apart: the server gives up after about 25 s.
ok "the server ends a's projector session within 60 s" wait_until 60 eval \
	'[[ $(q "SELECT count(*) FROM pg_stat_activity WHERE pid = '"'$PROJ_A'"'") == 0 ]]'
diag "a's session ended $(($(date +%s) - t0)) s after the cut"
ok "instance b's projector takes the lead" wait_until 5 eval 'LOGFILE=$LOG_B log_has projection.leader'
ok "the actor registered after the cut is listed" wait_until 5 projected "$AFTER"
ok "register through instance b once more" freg "$SOCK_B" "Under the new leader"
ok "... listed within 3 s" wait_until 3 projected "$RID"

# a's link comes back: its projector finds its session gone, connects again
# and waits as a standby; one leader still.
ip netns exec "$NS" ip link set "$VETH_N" up
ok "instance a's projector connects again" wait_until 60 eval \
	'[[ $(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = '"'corad-projector'"' AND client_addr = '"'$NET.2'"'") == 1 ]]'
is "$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" 1 \
	"one projector holds the advisory lock"
ok "register through instance b after a is back" freg "$SOCK_B" "After a is back"
ok "... listed within 3 s" wait_until 3 projected "$RID"
is "$(q "SELECT count(*) FROM proj_access_actor_summary")" 4 "four actors, each listed once"
nok "no child of a crashed" eval 'LOGFILE=$LOG_A log_has master.child_exited'
nok "no child of b crashed" eval 'LOGFILE=$LOG_B log_has master.child_exited'
done_testing
