#!/bin/bash
# The Debian package, as an operator gets it: `dpkg-buildpackage -us -uc -b`
# on a copy of the source tree builds corad_VERSION_ARCH.deb; lintian finds
# no error and no warning; `dpkg -i` installs it on this machine (the corad
# user, the settings 0640 root:corad, the units installed but neither
# enabled nor started, systemd-analyze verify on them); the installed binary
# passes `corad check` as far as the database, migrates a private
# PostgreSQL from /usr/share/corad/sql and answers requests behind nginx;
# `dpkg --purge` removes it again. It changes the machine (the package, the
# corad user), so `make check` does not run it: scripts/quickstart test does,
# as its "package" step.
E2E_DIR=$CORAD_SRCDIR/tests/e2e
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
need_tools lintian

# --- build ---------------------------------------------------------------------
. "$CORAD_SRCDIR/tests/package/lib_deb.sh"
build_deb
is "$?" 0 "dpkg-buildpackage -us -uc -b builds the package"
ok "it made $(basename "$DEB")" test -f "$DEB"
[[ -f $DEB ]] || { diag "$(tail -n 30 "$T/build.log")"; bail "no package to test"; }
is "$(dpkg-deb -f "$DEB" Version)" "$CORAD_VERSION" "the package's version is corad's ($CORAD_VERSION)"

lintian --no-tag-display-limit "$T/src/corad_${VERSION}_${ARCH}.changes" >"$T/lintian.out" 2>&1
is "$(grep -E '^[EW]: ' "$T/lintian.out")" "" "lintian: no error and no warning"
LINTIAN_INFO=$(lintian -I --pedantic "$T/src/corad_${VERSION}_${ARCH}.changes" 2>/dev/null | grep -E '^[IP]: ')
# What is left, and why it stays (doc/design.md, "Deployment"):
# no init.d script (corad runs under systemd, or by hand), and a string the
# compiler cut in the binary ("characte") that no text of ours holds.
is "$(grep -vE 'package-supports-alternative-init-but-no-init.d-script|spelling-error-in-binary characte character' <<<"$LINTIAN_INFO")" "" \
	"lintian --pedantic: only the two tags doc/design.md explains"

dpkg-deb -c "$DEB" | awk '{ print $NF }' >"$T/contents"
for f in usr/sbin/corad lib/systemd/system/corad.service lib/systemd/system/corad.socket \
    etc/corad/corad.env etc/corad/policy.json usr/share/corad/sql/0001_event_store.sql \
    usr/share/man/man8/corad.8.gz usr/share/doc/corad/examples/nginx/corad.conf; do
	ok "the package holds /$f" grep -qx "./$f" "$T/contents"
done
is "$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xOf - ./conffiles)" \
	"/etc/corad/corad.env
/etc/corad/policy.json" "its conffiles: the settings and the policy"

# --- install ----------------------------------------------------------------------
purge() { dpkg --purge corad >/dev/null 2>&1 || true; }
trap 'purge; pg_cleanup' EXIT
dpkg -i "$DEB" >"$T/install.log" 2>&1
is "$?" 0 "dpkg -i installs it"
is "$(dpkg-query -W -f='${Status}' corad 2>/dev/null)" "install ok installed" "dpkg says corad is installed"
is "$(/usr/sbin/corad version)" "corad $CORAD_VERSION" "/usr/sbin/corad version"
ok "the system user corad exists" getent passwd corad
is "$(stat -c '%U:%G %a' /etc/corad/corad.env)" "root:corad 640" "/etc/corad/corad.env: root:corad 0640"
is "$(stat -c '%U:%G %a' /etc/corad/policy.json)" "root:corad 640" "/etc/corad/policy.json: root:corad 0640"
ok "the service is not enabled (configure /etc/corad first)" \
	eval '! ls /etc/systemd/system/*.wants/corad.* >/dev/null 2>&1'
if command -v systemd-analyze >/dev/null; then
	out=$(SYSTEMD_LOG_COLOR=0 timeout 60 systemd-analyze verify /lib/systemd/system/corad.service \
		/lib/systemd/system/corad.socket 2>&1)
	is "$(grep -Ei 'corad\.(service|socket)' <<<"$out")" "" "systemd-analyze verify: nothing about the installed units"
fi
out=$(runuser -u corad -- /usr/sbin/corad check --env-file /etc/corad/corad.env 2>/dev/null)
like "$out" '^corad: start-up refused \(APP_ENV=production\): ' \
	"corad check as user corad reads the installed settings (production tier)"
unlike "$out" 'AUTHZ_POLICY_FILE' "... and the installed policy loads"

# --- the installed binary serves -------------------------------------------------------
BUILT_BIN=$CORAD_BIN
CORAD_BIN=/usr/sbin/corad
db_setup	# corad migrate with the installed binary: /usr/share/corad/sql
like "$(cat "$T/migrate.log")" "applied 0001_event_store.sql" "the installed binary migrates from /usr/share/corad/sql"
trap 'purge; pg_cleanup' EXIT
nginx_server main
nginx_start || bail "nginx starts"
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=2 || bail "the installed corad serves"
http GET /health
is "$HTTP_STATUS" 200 "the installed corad: GET /health 200"
json_is "$HTTP_BODY" .version "$CORAD_VERSION" "... its version"
http POST /cautions -H 'Content-Type: application/json' --data-binary \
	'{"target":{"kind":"Asset","id":"01900000-0000-7000-8000-0000000000a1"},"category":"Wear","severity":"Notice","text":"t","workaround":"w"}'
is "$HTTP_STATUS" 201 "the installed corad: POST /cautions 201"
corad_stop TERM

# --- purge ------------------------------------------------------------------------------
dpkg --purge corad >"$T/purge.log" 2>&1
is "$?" 0 "dpkg --purge removes it"
ok "no /usr/sbin/corad after the purge" eval '! test -e /usr/sbin/corad'
ok "no /etc/corad after the purge" eval '! test -e /etc/corad'
CORAD_BIN=$BUILT_BIN	# the same version's OpenAPI document, for done_testing

done_testing
