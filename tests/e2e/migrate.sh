#!/bin/bash
# `corad migrate`: applies the shipped migrations in
# order and records them; a second run applies nothing; a failing migration
# is rolled back entirely and can be fixed and re-run; a migration changed
# after it was applied is refused.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
trap pg_cleanup EXIT
need_tools psql

pg_start || bail "PostgreSQL starts"
DB="postgresql:///cora?host=$PGHOST&user=postgres"	# superuser, database cora

# migrate name [VAR=value...]: runs `corad migrate` as the owner (20 s limit);
# sets MIG_STATUS, MIG_OUT (stdout), MIG_ERR (stderr file, the JSON log).
migrate() {
	local name=$1
	shift
	MIG_STATUS=0
	MIG_ERR=$T/migrate-$name.err
	MIG_OUT=$(env DATABASE_OWNER_URL="$PG_OWNER_URL" "$@" timeout 20 "$CORAD_BIN" migrate \
		2>"$MIG_ERR" </dev/null) || MIG_STATUS=$?
}
applied_lines() { grep '^applied ' <<<"$MIG_OUT" || true; }
versions() { q "SELECT string_agg(version::text, ',' ORDER BY version) FROM corad_schema_migrations"; }
max_version() { q "SELECT max(version) FROM corad_schema_migrations"; }
# mig_log event [jq-condition]
mig_has() { LOGFILE=$MIG_ERR log_has "$@"; }
mig_reason() { LOGFILE=$MIG_ERR log_select migrate.failed | jq -r '.reason // empty' | head -n 1; }

# The shipped migrations, NNNN_name.sql, numbered 1..LAST; the tests add NEXT.
SHIPPED=$(cd "$CORAD_SRCDIR/sql" && ls -1 [0-9][0-9][0-9][0-9]_*.sql)
LAST=$(count_lines "$SHIPPED")
ALL_VERSIONS=$(seq -s, 1 "$LAST")
NEXT=$(printf '%04d' $((LAST + 1)))

# --- fresh database ----------------------------------------------------------------
migrate first
is "$MIG_STATUS" 0 "fresh database: corad migrate exits 0"
is "$(applied_lines)" "$(sed 's/^/applied /' <<<"$SHIPPED")" \
	"fresh database: prints each migration it applies, in order ($LAST)"
like "$SHIPPED" '0004_caution\.sql' "the shipped migrations include Caution's"
nok "fresh database: no migrate.failed" mig_has migrate.failed
is "$(versions)" "$ALL_VERSIONS" "corad_schema_migrations holds versions $ALL_VERSIONS"
for t in events actor_profile entries_access_verdicts proj_access_actor_summary projection_bookmarks \
    idempotency_keys proj_caution_summary; do
	is "$(q "SELECT to_regclass('public.$t') IS NOT NULL")" t "table $t exists"
done
is "$(q "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'cora_app'")" t "role cora_app exists with LOGIN"
is "$(q "SELECT tableowner FROM pg_tables WHERE tablename = 'events'")" cora_owner "events is owned by the migrating role"

migrate second
is "$MIG_STATUS" 0 "second run: exits 0"
is "$(applied_lines)" "" "second run: prints no applied line"
is "$(versions)" "$ALL_VERSIONS" "second run: versions unchanged"

# --- a failing migration is rolled back -----------------------------------------------
cp -r "$CORAD_SRCDIR/sql" "$T/sql"
chmod -R u+w "$T/sql"
printf 'CREATE TABLE half_applied (id int);\nSELECT * FROM no_such_table;\n' >"$T/sql/${NEXT}_bad.sql"
migrate bad CORAD_MIGRATIONS_DIR="$T/sql"
isnt "$MIG_STATUS" 0 "failing migration: corad migrate exits non-zero"
isnt "$MIG_STATUS" 124 "failing migration: corad migrate exits by itself"
ok "failing migration: migrate.failed logged" mig_has migrate.failed
like "$(mig_reason)" "${NEXT}_bad\\.sql" "failing migration: the migrate.failed reason names ${NEXT}_bad.sql"
ok "failing migration: migrate.failed carries the database error" \
	mig_has migrate.failed '[.. | strings] | any(test("no_such_table"))'
is "$(applied_lines)" "" "failing migration: no applied line"
is "$(q "SELECT to_regclass('public.half_applied') IS NULL")" t "failing migration: table half_applied does not exist"
is "$(max_version)" "$LAST" "failing migration: max(version) is still $LAST"

rm -f "$T/sql/${NEXT}_bad.sql"
printf 'CREATE TABLE half_applied (id int);\n' >"$T/sql/${NEXT}_good.sql"
migrate good CORAD_MIGRATIONS_DIR="$T/sql"
is "$MIG_STATUS" 0 "fixed migration: exits 0"
is "$(applied_lines)" "applied ${NEXT}_good.sql" "fixed migration: applied ${NEXT}_good.sql"
is "$(max_version)" $((LAST + 1)) "fixed migration: version $((LAST + 1))"
is "$(q "SELECT to_regclass('public.half_applied') IS NOT NULL")" t "fixed migration: table half_applied exists"
migrate good-again CORAD_MIGRATIONS_DIR="$T/sql"
is "$MIG_STATUS:$(applied_lines)" 0: "fixed migration: a second run applies nothing"

# --- an applied migration whose comments changed ----------------------------------------
# The recorded checksum leaves out lines that are only a comment.
printf -- '-- a comment corrected after the fact\n  -- and an indented one\n' >>"$T/sql/0001_event_store.sql"
migrate comment CORAD_MIGRATIONS_DIR="$T/sql"
is "$MIG_STATUS:$(applied_lines)" 0: "a comment added to an applied migration: exits 0, applies nothing"
# A database migrated by a build that recorded the whole file's checksum.
q "UPDATE corad_schema_migrations SET checksum = '$(sha256sum "$T/sql/0001_event_store.sql" | cut -d' ' -f1)'
   WHERE version = 1" >/dev/null
migrate legacy CORAD_MIGRATIONS_DIR="$T/sql"
is "$MIG_STATUS:$(applied_lines)" 0: "the whole file's checksum, as older builds recorded it: accepted"

# --- an applied migration that changed --------------------------------------------------
printf 'SELECT 1; -- a statement added after the fact\n' >>"$T/sql/0001_event_store.sql"
migrate changed CORAD_MIGRATIONS_DIR="$T/sql"
isnt "$MIG_STATUS" 0 "changed migration: corad migrate exits non-zero"
isnt "$MIG_STATUS" 124 "changed migration: corad migrate exits by itself"
ok "changed migration: migrate.failed mentions 'changed after it was applied'" \
	mig_has migrate.failed '(.reason // "") | test("changed after it was applied")'
ok "changed migration: the reason names the file" \
	mig_has migrate.failed '(.reason // "") | test("0001_event_store\\.sql")'
is "$(applied_lines)" "" "changed migration: no applied line"
is "$(max_version)" $((LAST + 1)) "changed migration: version still $((LAST + 1))"

# --- no database -----------------------------------------------------------------------
migrate nodb DATABASE_OWNER_URL="postgresql:///cora?host=$T/no-postgres"
isnt "$MIG_STATUS" 0 "no database: corad migrate exits non-zero"
isnt "$MIG_STATUS" 124 "no database: corad migrate exits by itself"

done_testing
