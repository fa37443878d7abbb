#!/bin/bash
# The command line, configuration errors and start-up gate 1: production
# without REQUIRE_AUTHENTICATED_PRINCIPAL=true.
. "$(dirname "$0")/lib.sh"

# --- command line ---
out=$("$CORAD_BIN" version 2>&1)
rc=$?
is "$rc" 0 "corad version exits 0"
like "$out" "(^|[^0-9.])${CORAD_VERSION//./\\.}([^0-9.]|$)" "corad version prints $CORAD_VERSION"
out=$("$CORAD_BIN" --help 2>&1)
rc=$?
is "$rc" 0 "corad --help exits 0"
like "$out" serve "--help mentions serve"
like "$out" check "--help mentions check"
like "$out" version "--help mentions version"
like "$out" statements "--help mentions statements"

# --- bad values ---
# bad_value command VAR value
bad_value() {
	local cmd=$1 var=$2 val=$3 n
	corad_run "$cmd-$var" "$cmd" "$var=$val"
	isnt "$RUN_STATUS" 0 "$var='$val': corad $cmd exits non-zero"
	isnt "$RUN_STATUS" timeout "$var='$val': corad $cmd exits by itself (status $RUN_STATUS)"
	n=$(LOGFILE=$RUN_LOG log_count config.invalid)
	is "$n" 1 "$var='$val': corad $cmd logs one config.invalid line"
	LOGFILE=$RUN_LOG ok "$var='$val': config.invalid names the variable and the value" \
		log_has config.invalid ".variable == \"$var\" and .value == $(jq -n --arg v "$val" '$v')"
	is "$RUN_WORKER_SEEN" 0 "$var='$val': no worker started"
}
for cmd in serve check; do
	bad_value "$cmd" CORA_WORKERS abc
	bad_value "$cmd" LOG_LEVEL LOUD
done
bad_value serve REQUIRE_AUTHENTICATED_PRINCIPAL maybe
bad_value serve MAX_REQUEST_BODY_SIZE_BYTES 1MB
ok "the bad-value runs created no socket" eval '! test -e "$T/corad.sock"'

# --- a good local configuration ---
corad_run check-local check APP_ENV=local
is "$RUN_STATUS" 0 "corad check with a good local configuration exits 0"
is "$RUN_WORKER_SEEN" 0 "corad check starts no worker"
# One line for a person, as nginx -t gives one; the JSON lines stay for machines.
like "$(grep '^corad: ' "$RUN_LOG")" \
	'^corad: configuration ok \(APP_ENV=local, not the production tier\), with [0-9]+ warnings?: REQUIRE_AUTHENTICATED_PRINCIPAL is not true' \
	"corad check prints one human line: configuration ok, with the first warning"
is "$(grep -c '^corad: ' "$RUN_LOG")" 1 "corad check prints exactly one human line"

# --- the listen socket and the runtime directory, as serve would open them ---
# listen_refused name desc VAR=value...: check and serve both exit 1, check
# with startup.refused gate listen.
listen_refused() {
	local name=$1 desc=$2 cmd
	shift 2
	for cmd in check serve; do
		corad_run "$cmd-$name" "$cmd" APP_ENV=local "$@"
		is "$RUN_STATUS" 1 "$desc: corad $cmd exits 1"
	done
	LOGFILE=$T/run-check-$name.log ok "$desc: corad check logs startup.refused, gate listen" \
		log_has startup.refused '.gate == "listen"'
}
listen_refused nodir "a unix socket in a directory that does not exist" CORA_LISTEN="unix:$T/nowhere/c.sock"
listen_refused norun "a runtime directory that cannot be made" CORA_RUNTIME_DIR="$T/nowhere/run"
listen_refused badhost "a TCP host that does not resolve" CORA_LISTEN="no-such-host.invalid:9000"
# A check runs beside the server it checks (before a reload): its socket
# in use is no refusal.
corad_start CORA_WORKERS=1 || bail "corad starts for the check beside it"
corad_run check-beside check APP_ENV=local
is "$RUN_STATUS" 0 "corad check beside the running server exits 0"
corad_stop TERM
PORT_FREE=$(pick_port)
corad_run check-tcp check APP_ENV=local CORA_LISTEN="127.0.0.1:$PORT_FREE"
is "$RUN_STATUS" 0 "a free TCP port: corad check exits 0"
LOGFILE=$RUN_LOG ok "... with serve's warning about FCGI_WEB_SERVER_ADDRS" \
	log_has startup.warning '.setting == "FCGI_WEB_SERVER_ADDRS"'

# --- gate 1 ---
# gate1 name APP_ENV-value [extra VAR=value...]
gate1() {
	local name=$1 env=$2 cmd
	shift 2
	for cmd in serve check; do
		rm -f "$T/corad.sock"
		corad_run "$cmd-$name" "$cmd" "APP_ENV=$env" "$@"
		isnt "$RUN_STATUS" 0 "APP_ENV='$env' $*: corad $cmd exits non-zero"
		isnt "$RUN_STATUS" timeout "APP_ENV='$env' $*: corad $cmd exits by itself (status $RUN_STATUS)"
		LOGFILE=$RUN_LOG ok "APP_ENV='$env' $*: corad $cmd logs startup.refused about REQUIRE_AUTHENTICATED_PRINCIPAL" \
			log_has startup.refused '(.reason | type) == "string" and (.reason | test("REQUIRE_AUTHENTICATED_PRINCIPAL"))'
		[[ $cmd == check ]] && like "$(grep '^corad: ' "$RUN_LOG")" \
			"^corad: start-up refused \\(APP_ENV=$(tr -d ' ' <<<"$env")\\): REQUIRE_AUTHENTICATED_PRINCIPAL is not true" \
			"APP_ENV='$env' $*: corad check's human line says start-up is refused and why"
		if [[ $cmd == serve ]]; then
			is "$RUN_WORKER_SEEN" 0 "APP_ENV='$env': no corad-worker process ever appeared"
			LOGFILE=$RUN_LOG nok "APP_ENV='$env': no master.child_started logged" \
				log_has master.child_started
			ok "APP_ENV='$env': the socket file was not created" eval '! test -e "$T/corad.sock"'
		fi
	done
}
gate1 production production
gate1 prod-spaces ' Prod '
gate1 staging staging
gate1 production-false PRODUCTION REQUIRE_AUTHENTICATED_PRINCIPAL=false

# Outside production the same setting is a warning, and corad serves.
nginx_server main
nginx_start || bail "nginx starts"
if corad_start APP_ENV=local; then
	pass "APP_ENV=local without REQUIRE_AUTHENTICATED_PRINCIPAL: corad serves"
else
	fail "APP_ENV=local without REQUIRE_AUTHENTICATED_PRINCIPAL: corad serves"
fi
ok "APP_ENV=local: startup.warning about REQUIRE_AUTHENTICATED_PRINCIPAL" \
	log_has startup.warning '[.. | strings] | any(test("REQUIRE_AUTHENTICATED_PRINCIPAL"))'
nok "APP_ENV=local: no startup.refused" log_has startup.refused
http GET /health
is "$HTTP_STATUS" 200 "APP_ENV=local: GET /health is 200"
cmp_ok "$(worker_count)" -ge 1 "APP_ENV=local: workers are running"
corad_stop TERM

# A misspelt tier is refused: it would turn the production gates off.
corad_run check-typo check APP_ENV=prodd
is "$RUN_STATUS" 78 "APP_ENV=prodd: corad check exits 78 (EX_CONFIG)"
like "$(grep '^corad: ' "$RUN_LOG")" "^corad: configuration invalid: APP_ENV='prodd' is invalid: allowed is prod, production or staging" \
	"APP_ENV=prodd: corad check's human line names the variable and the tiers"
LOGFILE=$RUN_LOG ok "APP_ENV=prodd: config.invalid names APP_ENV and the tiers" \
	log_has config.invalid '.variable == "APP_ENV" and ((.allowed // .reason // "") | test("production"))'

done_testing
