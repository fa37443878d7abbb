#!/bin/bash
# corad init-db: from an administrator's connection (DATABASE_ADMIN_URL) on
# a bare cluster, it creates the owner role and the app role with nothing
# but LOGIN, the database owned by the owner with CONNECT for the app role
# alone, and the public schema owned by the owner; it says each step; run
# again it changes nothing and says so; a password in a URL becomes the
# role's (SCRAM) password; `corad migrate` and `corad check` then work with
# those roles; and it refuses what would be unsafe (one role for both, a
# database someone else owns).
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
trap pg_cleanup EXIT
need_tools psql
pg_start bare || bail "PostgreSQL starts"
DB="postgresql:///cora?host=$PGHOST&user=postgres"
role() { sql_as "$PG_SUPER_URL" "SELECT rolsuper || ' ' || rolcreatedb || ' ' || rolcreaterole || ' ' || rolcanlogin || ' ' || rolreplication FROM pg_roles WHERE rolname = '$1'"; }

init_db() {	# init_db [VAR=value...]: corad init-db; sets OUT and RC
	RC=0
	OUT=$(env DATABASE_ADMIN_URL="$PG_SUPER_URL" DATABASE_OWNER_URL="$PG_OWNER_URL" \
		DATABASE_URL="$PG_APP_URL" "$@" "$CORAD_BIN" init-db 2>"$T/init.err") || RC=$?
}

init_db
is "$RC" 0 "corad init-db on a bare cluster exits 0"
is "$OUT" "created role cora_owner (LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION)
created role cora_app (LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION)
created database cora owned by cora_owner
database cora: CONNECT for cora_app only
schema public of cora: owned by cora_owner, nobody else may create in it
ready: run corad migrate as the owner (DATABASE_OWNER_URL)" "it says what it did, step by step"
is "$(role cora_owner)" "false false false true false" "cora_owner: LOGIN, no superuser, CREATEDB, CREATEROLE or REPLICATION"
is "$(role cora_app)" "false false false true false" "cora_app: LOGIN and nothing else"
is "$(sql_as "$PG_SUPER_URL" "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'cora'")" cora_owner \
	"database cora is owned by cora_owner"
is "$(sql_as "$PG_SUPER_URL" "SELECT has_database_privilege('cora_app', 'cora', 'CONNECT')::text || has_database_privilege('public', 'cora', 'CONNECT')::text")" \
	truefalse "CONNECT on cora: cora_app yes, PUBLIC no"
is "$(q "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public'")" cora_owner \
	"schema public is owned by cora_owner"

init_db
is "$RC" 0 "run again: exits 0"
is "$OUT" "role cora_owner exists
role cora_app exists
database cora exists, owned by cora_owner
database cora: CONNECT for cora_app only
schema public of cora: owned by cora_owner, nobody else may create in it
ready: run corad migrate as the owner (DATABASE_OWNER_URL)" "run again: nothing is created, and it says so"

out=$(DATABASE_OWNER_URL=$PG_OWNER_URL "$CORAD_BIN" migrate 2>&1)
like "$out" "schema at version [0-9]+ \\([0-9]+ applied\\)" "corad migrate as cora_owner works on what init-db made"
out=$(DATABASE_URL=$PG_APP_URL APP_ENV=production REQUIRE_AUTHENTICATED_PRINCIPAL=true \
	ALLOW_PERMISSIVE_AUTHZ=true CORA_RUNTIME_DIR="$T/run" "$CORAD_BIN" check 2>/dev/null)
is "$out" "corad: configuration ok (APP_ENV=production, production tier)" \
	"corad check in the production tier passes every gate with cora_app (the restricted role)"
out=$(DATABASE_URL=$PG_APP_URL APP_ENV=production REQUIRE_AUTHENTICATED_PRINCIPAL=true \
	ALLOW_PERMISSIVE_AUTHZ=true CORA_PRINCIPAL_PARAM=HTTP_X_PRINCIPAL_ID CORA_RUNTIME_DIR="$T/run" "$CORAD_BIN" check 2>/dev/null)
like "$out" '^corad: configuration ok \(APP_ENV=production, production tier\), with 1 warning: ' \
	"... with a warning, the line still says the production tier"
out=$(DATABASE_URL="postgresql:///cora?host=$T/nowhere" APP_ENV=production REQUIRE_AUTHENTICATED_PRINCIPAL=true \
	ALLOW_PERMISSIVE_AUTHZ=true CORA_RUNTIME_DIR="$T/run" "$CORAD_BIN" check 2>/dev/null)
is "$(wc -l <<<"$out")" 1 "a refusal whose database error has a hint is still one line: $out"

# A password in DATABASE_URL is set as the role's password, as SCRAM.
init_db DATABASE_URL="postgresql://cora_app:s3cret%20pw@/cora?host=$PGHOST"
is "$RC" 0 "with a password in DATABASE_URL: exits 0"
like "$OUT" "set the password of cora_app \\(from DATABASE_URL\\)" "it says it set cora_app's password"
unlike "$OUT$(cat "$T/init.err")" "s3cret" "the password itself is never printed or logged"
like "$(sql_as "$PG_SUPER_URL" "SELECT rolpassword FROM pg_authid WHERE rolname = 'cora_app'")" '^SCRAM-SHA-256\$' \
	"the role's password is a SCRAM verifier"

# What it refuses.
init_db DATABASE_OWNER_URL="$PG_APP_URL"
is "$RC" 1 "one role for owner and app: refused (exit 1)"
like "$OUT" "^corad: init-db failed: DATABASE_OWNER_URL and DATABASE_URL name the same role, cora_app" \
	"... because the workers must not own the tables"
sql_as "$PG_SUPER_URL" "CREATE ROLE someone_else" >/dev/null
sql_as "$PG_SUPER_URL" "CREATE DATABASE other OWNER someone_else" >/dev/null
init_db DATABASE_OWNER_URL="postgresql:///other?host=$PGHOST&user=cora_owner" \
	DATABASE_URL="postgresql:///other?host=$PGHOST&user=cora_app"
is "$RC" 1 "a database that someone else owns: refused"
like "$OUT" "database other exists and is owned by someone_else, not cora_owner" "... and it says who owns it"
init_db DATABASE_ADMIN_URL="postgresql:///postgres?host=$T/nowhere&user=postgres"
is "$RC" 1 "no administrator connection: refused"
like "$OUT" "^corad: init-db failed: " "... with the reason on one line"

done_testing
