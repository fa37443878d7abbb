#!/bin/bash
# `make install` into a prefix of this test's own installs what an operator
# needs: the binary, the systemd units with this prefix's paths (accepted by
# systemd-analyze verify), the settings file (0640) and a deny-everything
# policy, sql/, the manual, and the proxy files, example policy, alerting
# rules and dashboard as examples; the installed corad loads that settings
# file and policy; an installed binary never reads the source tree's sql/;
# `make uninstall` leaves no file behind.
. "$(dirname "$0")/lib.sh"
need_tools make

BUILD=$(dirname "$CORAD_BIN")
P=$T/prefix
ok "make install prefix=$P" eval 'make -s -C "$BUILD" install prefix="$P" >"$T/install.log" 2>&1'
[[ -s $T/install.log ]] && diag "$(tail -n 5 "$T/install.log")"

for f in sbin/corad lib/systemd/system/corad.service lib/systemd/system/corad.socket \
    etc/corad/corad.env etc/corad/policy.json share/man/man8/corad.8 \
    share/doc/corad/examples/nginx/corad.conf share/doc/corad/examples/apache/corad.conf \
    share/doc/corad/examples/policy/corad-policy.json \
    share/doc/corad/examples/prometheus/corad-alerts.yml \
    share/doc/corad/examples/grafana/corad-dashboard.json; do
	ok "installed: $f" test -f "$P/$f"
done
is "$(ls "$P/share/corad/sql" 2>/dev/null)" "$(cd "$CORAD_SRCDIR/sql" && ls)" "installed: every migration of sql/"
is "$(stat -c %a "$P/etc/corad/corad.env" 2>/dev/null)" 640 "the settings file is 0640 (it may hold a password)"
is "$(grep '^ExecStart=' "$P/lib/systemd/system/corad.service")" \
	"ExecStart=$P/sbin/corad serve --env-file $P/etc/corad/corad.env" \
	"the unit runs this prefix's binary with this prefix's settings"
is "$(grep '^ExecReload=' "$P/lib/systemd/system/corad.service" | head -n 1)" \
	"ExecReload=$P/sbin/corad check --env-file $P/etc/corad/corad.env" \
	"the unit's reload checks this prefix's settings with this prefix's binary"
if command -v systemd-analyze >/dev/null; then
	out=$(MANPATH=$P/share/man systemd-analyze verify "$P/lib/systemd/system/corad.service" \
		"$P/lib/systemd/system/corad.socket" 2>&1)
	is "$(grep -v 'Unit configured to use KillMode=none' <<<"$out")" "" \
		"systemd-analyze verify accepts the installed units"
else
	skip "systemd-analyze verify accepts the installed units" "systemd-analyze is not installed"
fi
is "$(grep '^AUTHZ_POLICY_FILE=' "$P/etc/corad/corad.env")" "AUTHZ_POLICY_FILE=$P/etc/corad/policy.json" \
	"the settings name this prefix's policy"

# The installed corad reads that settings file: in the production tier it
# goes as far as the database (there is none here), past the policy.
out=$(DATABASE_URL="postgresql:///cora?host=$T/no-postgres" "$P/sbin/corad" check \
	--env-file "$P/etc/corad/corad.env" 2>"$T/check.err")
like "$out" '^corad: start-up refused \(APP_ENV=production\): cannot connect to DATABASE_URL' \
	"installed corad check: the installed settings and policy load; only the database is missing"
ok "... and the policy loaded (no authz_policy refusal)" eval \
	'! LOGFILE=$T/check.err log_has startup.refused ".gate == \"authz_policy\""'

# A copy outside the build tree never migrates from the source tree.
mkdir -p "$T/elsewhere"
cp "$CORAD_BIN" "$T/elsewhere/corad"
(cd "$T" && env -u CORAD_MIGRATIONS_DIR DATABASE_OWNER_URL="postgresql:///cora?host=$T/no-postgres" \
	"$T/elsewhere/corad" migrate) >"$T/migrate.out" 2>&1
nok "a binary outside its build tree does not read $CORAD_SRCDIR/sql" grep -q "$CORAD_SRCDIR/sql" "$T/migrate.out"

ok "make uninstall prefix=$P" eval 'make -s -C "$BUILD" uninstall prefix="$P" >"$T/uninstall.log" 2>&1'
is "$(find "$P" -type f 2>/dev/null)" "" "make uninstall leaves no file behind"

done_testing
