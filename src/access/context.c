/*
 * The Access context: everything the runtime needs to know of it, in one
 * place (doc/design.md, "Contexts"): each operation described once, the
 * SQL its handlers run, its projection and the tables they need. Its
 * migration is sql/0002_access.sql.
 */
#include "config.h"

#include "access/access.h"
#include "corad/context.h"

/* --- schemas --------------------------------------------------------------- */

static const struct schema uuid = { .type = SCHEMA_STRING, .format = SCHEMA_FORMAT_UUID };
static const struct schema str = { .type = SCHEMA_STRING };
static const struct schema nullable_str = { .type = SCHEMA_STRING, .nullable = true };
static const struct schema boolean = { .type = SCHEMA_BOOLEAN };
static const struct schema timestamp = { .type = SCHEMA_STRING, .format = SCHEMA_FORMAT_DATE_TIME };
static const struct schema kind = { .type = SCHEMA_STRING,
	.enums = (const char *const[]){ "human", "service_account", "agent", NULL } };
static const struct schema status = { .type = SCHEMA_STRING,
	.enums = (const char *const[]){ "active", "deactivated", NULL } };

static const struct op_param actor_path[] = {
	{ "actor_id", OP_IN_PATH, &uuid, true },
	{ NULL, 0, NULL, false },
};

static const struct op_param list_query[] = {
	{ "cursor", OP_IN_QUERY, &(const struct schema){ .type = SCHEMA_STRING,
	    .description = "next_cursor of the previous page" }, false },
	{ "limit", OP_IN_QUERY, &(const struct schema){ .type = SCHEMA_INTEGER,
	    .bounded = true, .minimum = 1, .maximum = 100, .default_json = "50" }, false },
	{ "status", OP_IN_QUERY, &status, false },
	{ NULL, 0, NULL, false },
};

static const struct schema actor_id_result = { .type = SCHEMA_OBJECT,
	.props = (const struct schema_prop[]){
		{ "actor_id", &uuid, true },
		{ NULL, NULL, false } } };

static const struct schema actor_result = { .type = SCHEMA_OBJECT,
	.props = (const struct schema_prop[]){
		{ "id", &uuid, true },
		{ "name", &str, true },
		{ "kind", &kind, true },
		{ "active", &boolean, true },
		{ NULL, NULL, false } } };

static const struct schema list_result = { .type = SCHEMA_OBJECT,
	.props = (const struct schema_prop[]){
		{ "items", &(const struct schema){ .type = SCHEMA_ARRAY,
		    .items = &(const struct schema){ .type = SCHEMA_OBJECT,
			.props = (const struct schema_prop[]){
			    { "actor_id", &uuid, true },
			    { "name", &str, true },
			    { "kind", &kind, true },
			    { "status", &status, true },
			    { "created_at", &timestamp, true },
			    { NULL, NULL, false } } } }, true },
		{ "next_cursor", &nullable_str, true },
		{ NULL, NULL, false } } };

static const struct schema history_result = { .type = SCHEMA_OBJECT,
	.props = (const struct schema_prop[]){
		{ "items", &(const struct schema){ .type = SCHEMA_ARRAY,
		    .items = &(const struct schema){ .type = SCHEMA_OBJECT,
			.props = (const struct schema_prop[]){
			    { "type", &str, true },
			    { "version", &(const struct schema){ .type = SCHEMA_INTEGER }, true },
			    { "occurred_at", &timestamp, true },
			    { "recorded_at", &timestamp, true },
			    { NULL, NULL, false } } } }, true },
		{ NULL, NULL, false } } };

/* --- operations ------------------------------------------------------------ */

static const struct operation operations[] = {
	{ .context = "access", .name = "RegisterActor", .verb = "register_actor",
	  .kind = OP_COMMAND, .method = METHOD_POST, .path = "/actors",
	  .handler = handle_register_actor, .principal = true, .idempotent = true,
	  .summary = "Register a new actor. Returns its actor_id.",
	  .body = &register_actor_body, .tool = "register_actor",
	  .status = 201, .result = &actor_id_result, .errors = (const int[]){ 400, 409, 0 } },
	{ .context = "access", .name = "GetActor", .verb = "get_actor",
	  .kind = OP_QUERY, .method = METHOD_GET, .path = "/actors/{actor_id}",
	  .handler = handle_get_actor, .principal = true,
	  .summary = "Read one actor from its event stream.",
	  .params = actor_path, .tool = "get_actor",
	  .status = 200, .result = &actor_result, .errors = (const int[]){ 404, 0 } },
	{ .context = "access", .name = "GetActorHistory", .verb = "get_actor_history",
	  .kind = OP_QUERY, .method = METHOD_GET, .path = "/actors/{actor_id}/events",
	  .handler = handle_get_actor_history, .principal = true,
	  .summary = "The actor's events: type, version, when it occurred and was recorded; "
	      "oldest first.",
	  .params = actor_path, .tool = "get_actor_history",
	  .status = 200, .result = &history_result, .errors = (const int[]){ 404, 0 } },
	{ .context = "access", .name = "ListActors", .verb = "list_actors",
	  .kind = OP_QUERY, .method = METHOD_GET, .path = "/actors",
	  .handler = handle_list_actors, .principal = true,
	  .summary = "List actors, oldest first, a page at a time.",
	  .params = list_query, .tool = "list_actors",
	  .status = 200, .result = &list_result, .errors = (const int[]){ 0 } },
	{ .context = "access", .name = "DeactivateActor", .verb = "deactivate_actor",
	  .kind = OP_COMMAND, .method = METHOD_POST, .path = "/actors/{actor_id}/deactivate",
	  .handler = handle_deactivate_actor, .principal = true,
	  .summary = "Deactivate an actor; terminal.",
	  .params = actor_path, .tool = "deactivate_actor",
	  .status = 204, .errors = (const int[]){ 404, 409, 0 } },
	{ .context = "access", .name = "ForgetActor", .verb = "forget_actor",
	  .kind = OP_COMMAND, .method = METHOD_DELETE, .path = "/actors/{actor_id}/profile",
	  .handler = handle_forget_actor, .principal = true, .idempotent = true,
	  .summary = "Erase an actor's profile; its name becomes \"<deleted user>\".",
	  .params = actor_path, .tool = "forget_actor",
	  .status = 204, .errors = (const int[]){ 404, 409, 0 } },
	{ .name = NULL },
};

/* --- the workers' statements ----------------------------------------------- */

#define LIST_ACTORS(where) \
	"SELECT actor_id, name, kind, status," \
	" to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')" \
	" FROM proj_access_actor_summary" where " ORDER BY created_at, actor_id LIMIT $1::int"

static const struct statement statements[] = {
	{ "profile_insert",
	  "INSERT INTO actor_profile (actor_id, name, created_at, updated_at) VALUES ($1, $2, $3, $3)" },
	{ "actor_get",
	  /* The stream and the profile's name in one round trip (the name
	   * repeated on every row; a stream is a few events). */
	  "SELECT e.version, e.event_type, e.payload::text, p.name FROM events e"
	  " LEFT JOIN actor_profile p ON p.actor_id = $1"
	  " WHERE e.stream_type = 'Actor' AND e.stream_id = $1 ORDER BY e.version" },
	{ "profile_blank",
	  "UPDATE actor_profile SET name = '', updated_at = now() WHERE actor_id = $1" },
	{ "profile_delete", "DELETE FROM actor_profile WHERE actor_id = $1" },
	/* Every page starts in an index at its cursor, the first page at the
	 * cursor before everything (list_actors.c), so that every plan, the
	 * generic one included, reads just the page: a filter written
	 * "$2 IS NULL OR ..." would make the generic plan read from the first
	 * row. With a status, the row comparison that starts with it is what
	 * leaves the status index as the one way in, whatever the statuses'
	 * shares. $1 is the limit. */
	{ "list_actors",
	  LIST_ACTORS(" WHERE (created_at, actor_id) > ($2::timestamptz, $3::uuid)") },
	{ "list_actors_status",
	  LIST_ACTORS(" WHERE status = $2 AND (status, created_at, actor_id) > ($2, $3::timestamptz, $4::uuid)") },
	{ "actor_history",
	  "SELECT event_type, version,"
	  " to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
	  " to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
	  " FROM events WHERE stream_type = 'Actor' AND stream_id = $1 ORDER BY version" },
	{ NULL, NULL },
};

static const char *const tables[] = { "actor_profile", "proj_access_actor_summary", NULL };

const struct context access_context = {
	.name = "access",
	.operations = operations,
	.statements = statements,
	.projections = access_projections,
	.tables = tables,
};
