# shellcheck shell=bash disable=SC2034
# lib_access.sh: helpers for tests of the Access context, sourced after
# lib.sh and pg.sh.

# An actor id no test registers.
UNKNOWN=01900000-0000-7000-8000-000000000001

# register BODY [PRINCIPAL [curl options...]]: POST /actors with BODY as
# PRINCIPAL; sets RID to the new actor_id ("" unless 201). True on a 201.
register() {
	post_json "${2:-}" /actors "$1" "${@:3}"
	RID=
	[[ $HTTP_STATUS == 201 ]] || return 1
	RID=$(json_value "$HTTP_BODY" .actor_id)
}

# register_name NAME [PRINCIPAL [curl options...]]: register {"name": NAME}.
register_name() {
	register "$(jq -cn --arg n "$1" '{name: $n}')" "${@:2}"
}

# rows: "<events> <actor_profile>", the row counts a write would move.
rows() { q "SELECT (SELECT count(*) FROM events) || ' ' || (SELECT count(*) FROM actor_profile)"; }

# ev_json ACTOR_ID EVENT_TYPE: that event of the actor's stream as JSON.
ev_json() {
	q "SELECT row_to_json(e) FROM events e WHERE stream_type = 'Actor' AND stream_id = '$1' AND event_type = '$2'"
}

# verdict CORRELATION_ID: the verdict row of that request as JSON.
verdict() { q "SELECT row_to_json(v) FROM entries_access_verdicts v WHERE correlation_id = '$1'"; }
