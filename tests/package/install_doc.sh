#!/bin/bash
# doc/install.md, run as written: every ```sh block in order, as root, on
# this machine, with the package built from this tree; then the service's
# ExecStart as user corad behind nginx with the installed site file, for
# the one block that needs systemd as PID 1 (```sh systemd), which is
# checked with systemd-analyze instead. The machine is put back afterwards:
# the package purged, the database and roles dropped, PostgreSQL's
# configuration restored and the cluster stopped when it was, the site file
# removed. Run by scripts/quickstart test's "package" step.
E2E_DIR=$CORAD_SRCDIR/tests/e2e
. "$E2E_DIR/lib.sh"
. "$CORAD_SRCDIR/tests/package/lib_deb.sh"
need_tools pg_ctlcluster runuser curl
DOC=$CORAD_SRCDIR/doc/install.md
PGCONF=/etc/postgresql/15/main
[[ -d $PGCONF ]] || bail "PostgreSQL 15's cluster main is not there ($PGCONF)"
[[ $(http_status_of http://127.0.0.1:8080/) == 000 ]] ||
	bail "127.0.0.1:8080 is in use: the documented site listens there"

# --- putting the machine back ------------------------------------------------------
cp -p "$PGCONF/pg_hba.conf" "$PGCONF/pg_ident.conf" "$T/"
WAS_DOWN=0
pg_lsclusters -h 15 main | grep -q ' down ' && WAS_DOWN=1
SERVICE_PID=
restore() {
	[[ -n $SERVICE_PID ]] && kill -TERM "$SERVICE_PID" 2>/dev/null
	pkill -TERM -u corad -x corad 2>/dev/null
	wait_until 10 eval '! pgrep -u corad >/dev/null'
	pkill -KILL -u corad 2>/dev/null
	[[ -n $NGINX_PID ]] && kill -TERM "$NGINX_PID" 2>/dev/null
	rm -f /etc/nginx/sites-enabled/corad /etc/nginx/sites-available/corad
	if pg_lsclusters -h 15 main | grep -q ' online '; then
		runuser -u postgres -- psql -qAtX -c 'DROP DATABASE IF EXISTS cora' >/dev/null 2>&1
		runuser -u postgres -- psql -qAtX -c 'DROP ROLE IF EXISTS cora_app' -c 'DROP ROLE IF EXISTS cora_owner' \
			>/dev/null 2>&1
	fi
	cp -p "$T/pg_hba.conf" "$T/pg_ident.conf" "$PGCONF/"
	if [[ $WAS_DOWN == 1 ]]; then
		pg_ctlcluster 15 main stop >/dev/null 2>&1
	else
		pg_ctlcluster 15 main reload >/dev/null 2>&1
	fi
	dpkg --purge corad >/dev/null 2>&1
	rm -rf /run/corad
}
trap 'restore; cleanup' EXIT

build_deb
is "$?" 0 "the package of this tree builds"
[[ -f $DEB ]] || bail "no package: $(tail -n 20 "$T/build.log")"

# --- the document's blocks --------------------------------------------------------------
# Each block to a file of its own, in order; "systemd" blocks are set aside.
mkdir -p "$T/blocks"
awk -v dir="$T/blocks" '
	/^```sh( systemd)?$/ { n++; kind = ($2 == "systemd") ? "systemd" : "sh"; f = sprintf("%s/%02d.%s", dir, n, kind); next }
	/^```/ { f = ""; next }
	f != "" { print > f }' "$DOC"
BLOCKS=$(ls "$T/blocks")
cmp_ok "$(count_lines "$BLOCKS")" -ge 8 "doc/install.md has its command blocks ($(count_lines "$BLOCKS"))"

cd "$(dirname "$DEB")" || bail "cd to the package"
for b in $BLOCKS; do
	first=$(head -n 1 "$T/blocks/$b")
	if [[ $b == *.systemd ]]; then
		# What systemctl enable --now would do, without systemd: the
		# units verified, the service's command run as its user.
		out=$(SYSTEMD_LOG_COLOR=0 timeout 60 systemd-analyze verify /lib/systemd/system/corad.service \
			/lib/systemd/system/corad.socket 2>&1)
		is "$(grep -Ei 'corad\.(service|socket)' <<<"$out")" "" \
			"block $b ($first): needs systemd as PID 1; systemd-analyze verify accepts the units instead"
		install -d -m 0750 -o corad -g corad /run/corad
		exec_start=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/corad.service)
		runuser -u corad -- $exec_start >"$T/service.log" 2>&1 &
		SERVICE_PID=$!
		EXTRA_PIDS+=("$SERVICE_PID")
		wait_until 15 test -S /run/corad/corad.sock
		ok "block $b: the unit's ExecStart ($exec_start) runs as user corad and listens" \
			test -S /run/corad/corad.sock
		# nginx with the installed site file alone (the distribution's
		# default site would listen on every address).
		cat >"$T/nginx.conf" <<-EOF
			user www-data;
			worker_processes 1;
			pid $T/nginx.pid;
			error_log $T/nginx-error.log;
			events { worker_connections 64; }
			http { access_log off; include /etc/nginx/sites-enabled/corad; }
		EOF
		nginx -c "$T/nginx.conf" -g 'daemon off;' >"$T/nginx.out" 2>&1 &
		NGINX_PID=$!
		EXTRA_PIDS+=("$NGINX_PID")
		ok "nginx serves the installed site" wait_until 10 eval '[[ $(http_status_of http://127.0.0.1:8080/health) == 200 ]]'
		continue
	fi
	bash -e "$T/blocks/$b" >"$T/block-$b.out" 2>&1
	rc=$?
	is "$rc" 0 "block $b ($first) runs"
	[[ $rc == 0 ]] || diag "$(tail -n 15 "$T/block-$b.out")"
done

# What the blocks said and left.
like "$(cat "$T"/block-*.out)" 'created database cora owned by cora_owner' "init-db created the database"
like "$(cat "$T"/block-*.out)" 'schema at version [0-9]+' "corad migrate applied the schema"
like "$(cat "$T"/block-*.out)" 'corad: configuration ok \(APP_ENV=production, production tier\)' \
	"corad check as user corad: configuration ok in the production tier"
like "$(cat "$T"/block-*.out)" '\{"status":"ok","version":"'"$CORAD_VERSION"'"\}' \
	"the documented curl gets {\"status\":\"ok\",...} through nginx"
is "$(http_status_of http://127.0.0.1:8080/ready)" 200 "GET /ready: 200 (the database is reachable and migrated)"
BASE=http://127.0.0.1:8080
http GET /actors
is "$HTTP_STATUS" 401 "an API request without a principal: 401, as corad.env requires one"

done_testing
