#!/bin/bash
# A leader whose host vanishes (doc/design.md, "Projections"): instance a
# runs in a network namespace of its own and reaches PostgreSQL over TCP
# through a veth pair; its projector leads. When a's link goes down (a
# host cut off, powered off: no FIN, no RST), the server ends a's session
# within about 25 s and so releases the advisory lock, and instance b's
# projector takes the lead: the lists move again. Twice: once with nothing
# in flight (the server's keepalive probes find the peer gone), once with
# NOTIFYs the server could not deliver (no probe is sent while data waits
# for its acknowledgement: the user timeout ends it). The system's own
# keepalive would wait two hours, and retransmissions about 15 minutes.
#
# Needs root (a network namespace and a veth pair), as the package tests
# do. No nginx: requests go straight to each instance's FastCGI socket.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
need_tools cgi-fcgi ip

# The namespace and the link, named after this script's pid so that two
# runs at once do not meet: 198.18.0.0/15 is set aside for tests of
# network devices (RFC 2544), so no real network uses it.
NS=corad-fo-$$
VETH_H=vfoh$$
VETH_N=vfon$$
NET=198.$((18 + $$ / 250 % 2)).$(($$ % 250 + 1))
stop_servers() {
	ip netns del "$NS" 2>/dev/null
	ip link del "$VETH_H" 2>/dev/null
	return 0
}
trap pg_cleanup EXIT	# the namespace goes however the script ends
[[ $(id -u) == 0 ]] || bail "a network namespace and a veth pair need root"
ip netns add "$NS" || bail "a network namespace can be made (ip netns add)"
ip link add "$VETH_H" type veth peer name "$VETH_N" &&
	ip addr add "$NET.1/24" dev "$VETH_H" && ip link set "$VETH_H" up &&
	ip link set "$VETH_N" netns "$NS" &&
	ip netns exec "$NS" ip addr add "$NET.2/24" dev "$VETH_N" &&
	ip netns exec "$NS" ip link set "$VETH_N" up &&
	ip netns exec "$NS" ip link set lo up || bail "the veth pair into the namespace"
pass "instance a's host: a network namespace with a veth link to PostgreSQL's ($NET.0/24)"

# The server listens on the link too, on a port of its own (PGPORT is the
# default of the server and of every client, psql and corad alike).
PGPORT=$(pick_port)
export PGPORT
PG_LISTEN=$NET.1
db_setup
echo "host cora cora_app $NET.2/32 trust" >>"$PG_DIR/data/pg_hba.conf"
q "SELECT pg_reload_conf()" >/dev/null
A_URL="postgresql://cora_app@$NET.1:$PGPORT/cora"
ok "cora_app connects over TCP from the namespace" \
	eval 'ip netns exec "$NS" psql -qAtX "$A_URL" -c "SELECT 1" >/dev/null'

LOG_A=$T/corad-a.log
LOG_B=$T/corad-b.log
SOCK_B=$T/b.sock
REAL_CORAD=$CORAD_BIN
cat >"$T/corad-in-ns" <<EOF
#!/bin/bash
exec ip netns exec "$NS" "$REAL_CORAD" "\$@"
EOF
chmod +x "$T/corad-in-ns"

# start_a, start_b: instance a in the namespace over TCP, b on the host
# over the Unix socket; each a corad of its own (socket, runtime dir, log),
# with the default poll interval. PID_A, PID_B: their masters.
start_instance() {
	local sock=$T/$1.sock
	CORA_SOCK=$sock CORA_LISTEN=unix:$sock CORA_RUNTIME_DIR=$T/run-$1 CORAD_LOG=$T/corad-$1.log \
		corad_start DATABASE_URL="$2" CORA_WORKERS=1
}
start_a() {
	CORAD_BIN=$T/corad-in-ns
	start_instance a "$A_URL" || bail "instance a starts in the namespace"
	CORAD_BIN=$REAL_CORAD
	PID_A=$CORAD_PID
}
start_b() {
	start_instance b "$PG_APP_URL" || bail "instance b starts"
	PID_B=$CORAD_PID
}

# freg NAME: POST /actors through b; sets RID.
freg() {
	local body="{\"name\":\"$1\"}"
	printf '%s' "$body" >"$T/freg.json"	# not a pipe: fcgi must run in this shell
	FCGI_SOCK=$SOCK_B fcgi REQUEST_METHOD=POST DOCUMENT_URI=/actors REQUEST_URI=/actors \
		QUERY_STRING= CONTENT_TYPE=application/json CONTENT_LENGTH=${#body} <"$T/freg.json"
	RID=$(json_value "$FCGI_BODY" .actor_id)
	[[ $FCGI_STATUS == 201 && $RID =~ $UUID_RE ]]
}
projected() { [[ $(q "SELECT count(*) FROM proj_access_actor_summary WHERE actor_id = '$1'") == 1 ]]; }
# a_session: the pid of a's projector session ("" when it has none).
a_session() {
	q "SELECT pid FROM pg_stat_activity WHERE application_name = 'corad-projector'
		AND client_addr = '$NET.2'"
}
a_leads() { [[ -n $(a_session) ]] && [[ $(q "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a
	USING (pid) WHERE l.locktype = 'advisory' AND l.granted AND a.client_addr = '$NET.2'") == 1 ]]; }
b_leads() { [[ $(q "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a
	USING (pid) WHERE l.locktype = 'advisory' AND l.granted AND a.client_addr IS NULL
	AND a.application_name = 'corad-projector'") == 1 ]]; }
# cut_and_wait what: a's link goes down; the server must end a's projector
# session within 40 s (25 s expected) and b's projector must lead within
# 10 s more (it asks at its next poll, every 5 s), then project.
cut_and_wait() {
	local s t0
	s=$(a_session)
	ip netns exec "$NS" ip link set "$VETH_N" down
	t0=$(date +%s)
	"${@:2}"
	ok "$1: the server ends a's projector session within 40 s" wait_until 40 eval \
		'[[ $(q "SELECT count(*) FROM pg_stat_activity WHERE pid = '"'$s'"'") == 0 ]]'
	diag "$1: a's session ended $(($(date +%s) - t0)) s after the cut"
	ok "$1: b's projector takes the lead" wait_until 10 b_leads
	ok "$1: register through b" freg "After the cut: $1"
	ok "$1: ... listed within 3 s" wait_until 3 projected "$RID"
}

start_a
pass "instance a starts in the namespace"
ok "a's projector leads, over TCP" wait_until 5 a_leads
start_b
pass "instance b starts"
ok "register through b" freg "Before the cuts"
ok "listed within 3 s: a's projector projects it" wait_until 3 projected "$RID"
nok "b's projector is a standby" b_leads

# --- 1. a quiet cut: nothing in flight to a ------------------------------------------------
cut_and_wait "a quiet cut" true

# --- 2. a cut with NOTIFYs in flight to a ----------------------------------------------------
# a comes back as a new instance (its old one still holds a dead session),
# and leads once b stops; b comes back as its standby.
kill -KILL -- "-$PID_A" 2>/dev/null
wait_exit "$PID_A" 10
ip netns exec "$NS" ip link set "$VETH_N" up
start_a
kill -TERM "$PID_B"
wait_exit "$PID_B" 15
is "$EXIT_STATUS" 0 "b stops"
ok "a's new projector leads" wait_until 15 a_leads
start_b
notify() { q "SELECT pg_notify('events', '{}') FROM generate_series(1, 20)" >/dev/null; }
cut_and_wait "a cut with NOTIFYs in flight" notify

is "$(q "SELECT count(*) FROM proj_access_actor_summary")" 3 "three actors, each listed once"
nok "no child of a crashed" eval 'LOGFILE=$LOG_A log_has master.child_exited'
nok "no child of b crashed" eval 'LOGFILE=$LOG_B log_has master.child_exited'
done_testing
