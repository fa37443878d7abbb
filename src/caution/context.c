/*
 * The Caution context: everything the runtime needs to know of it, in one
 * place (doc/design.md, "Contexts"): each operation described once, the SQL
 * its handlers run, its projection and the tables they need. Its migration
 * is sql/0004_caution.sql.
 */
#include "config.h"

#include "caution/caution.h"
#include "corad/context.h"

/* --- schemas --------------------------------------------------------------- */

static const char *const categories[] = { "Wear", "Calibration", "Wiring", "OperationalWindow",
	"InterlockQuirk", "ProcedureGotcha", NULL };
static const char *const severity_names[] = { "Notice", "Caution", "Warning", NULL };
static const char *const status_names[] = { "Active", "Superseded", "Retired", NULL };
static const char *const reasons[] = { "Resolved", "NoLongerApplies", "WrongTarget", NULL };
const char *const caution_target_kinds[] = { "Asset", "Procedure", NULL };

static const struct schema uuid = { .type = SCHEMA_STRING, .format = SCHEMA_FORMAT_UUID };
static const struct schema nullable_uuid = { .type = SCHEMA_STRING, .format = SCHEMA_FORMAT_UUID,
	.nullable = true };
static const struct schema str = { .type = SCHEMA_STRING };
static const struct schema nullable_str = { .type = SCHEMA_STRING, .nullable = true };
static const struct schema boolean = { .type = SCHEMA_BOOLEAN };
static const struct schema timestamp = { .type = SCHEMA_STRING,
	.format = SCHEMA_FORMAT_DATE_TIME };
static const struct schema nullable_timestamp = { .type = SCHEMA_STRING,
	.format = SCHEMA_FORMAT_DATE_TIME, .nullable = true };
static const struct schema category = { .type = SCHEMA_STRING, .enums = categories };
static const struct schema severity = { .type = SCHEMA_STRING, .enums = severity_names };
static const struct schema status = { .type = SCHEMA_STRING, .enums = status_names };
static const struct schema nullable_reason = { .type = SCHEMA_STRING, .enums = reasons,
	.nullable = true };
static const struct schema tag_list = { .type = SCHEMA_ARRAY,
	.items = &(const struct schema){ .type = SCHEMA_STRING } };

static const struct schema target = { .type = SCHEMA_OBJECT,
	.description = "What the caution is about; not checked against any other context.",
	.props = (const struct schema_prop[]){
		{ "kind", &(const struct schema){ .type = SCHEMA_STRING,
		    .enums = caution_target_kinds }, true },
		{ "id", &uuid, true },
		{ NULL, NULL, false } } };

/* Register and supersede: the raw lengths here (422), the trimmed ones in
 * caution_check_fields (400). */
static const struct schema content = { .type = SCHEMA_OBJECT,
	.props = (const struct schema_prop[]){
		{ "target", &target, true },
		{ "category", &category, true },
		{ "severity", &severity, true },
		{ "text", &(const struct schema){ .type = SCHEMA_STRING,
		    .min_length = 1, .max_length = CAUTION_TEXT_MAX }, true },
		{ "workaround", &(const struct schema){ .type = SCHEMA_STRING,
		    .min_length = 1, .max_length = CAUTION_TEXT_MAX }, true },
		{ "tags", &(const struct schema){ .type = SCHEMA_ARRAY, .nullable = true,
		    .max_items = CAUTION_TAGS_MAX, .default_json = "[]",
		    .description = "Trimmed; repeats collapse; stored sorted.",
		    .items = &(const struct schema){ .type = SCHEMA_STRING,
			.min_length = 1, .max_length = CAUTION_TAG_MAX } }, false },
		{ "expires_at", &(const struct schema){ .type = SCHEMA_STRING,
		    .format = SCHEMA_FORMAT_DATE_TIME, .nullable = true,
		    .description = "RFC 3339 with an offset, in the future; a hint only: "
			"nothing retires the caution then." }, false },
		{ "propagate_to_children", &(const struct schema){ .type = SCHEMA_BOOLEAN,
		    .default_json = "false", .description = "Stored and returned; no effect yet." },
		    false },
		{ NULL, NULL, false } } };

static const struct schema retire_body = { .type = SCHEMA_OBJECT,
	.props = (const struct schema_prop[]){
		{ "reason", &(const struct schema){ .type = SCHEMA_STRING, .enums = reasons }, true },
		{ NULL, NULL, false } } };

static const struct op_param caution_path[] = {
	{ "caution_id", OP_IN_PATH, &uuid, true },
	{ NULL, 0, NULL, false },
};

static const struct op_param parent_path[] = {
	{ "parent_id", OP_IN_PATH, &uuid, true },
	{ NULL, 0, NULL, false },
};

static const struct op_param list_query[] = {
	{ "cursor", OP_IN_QUERY, &(const struct schema){ .type = SCHEMA_STRING,
	    .description = "next_cursor of the previous page" }, false },
	{ "limit", OP_IN_QUERY, &(const struct schema){ .type = SCHEMA_INTEGER,
	    .bounded = true, .minimum = 1, .maximum = 100, .default_json = "50" }, false },
	{ "target_kind", OP_IN_QUERY, &(const struct schema){ .type = SCHEMA_STRING,
	    .enums = caution_target_kinds }, false },
	{ "target_id", OP_IN_QUERY, &(const struct schema){ .type = SCHEMA_STRING,
	    .format = SCHEMA_FORMAT_UUID, .description = "Alone, it matches both kinds." }, false },
	{ "category", OP_IN_QUERY, &category, false },
	{ "severity", OP_IN_QUERY, &(const struct schema){ .type = SCHEMA_ARRAY,
	    .items = &severity, .description = "Repeatable: any of these exact values." }, false },
	{ "min_severity", OP_IN_QUERY, &(const struct schema){ .type = SCHEMA_STRING,
	    .enums = severity_names, .description = "This severity and those above it "
		"(Notice < Caution < Warning); not with severity." }, false },
	{ "status", OP_IN_QUERY, &(const struct schema){ .type = SCHEMA_ARRAY,
	    .items = &(const struct schema){ .type = SCHEMA_STRING,
		.enums = (const char *const[]){ "Active", "Superseded", "Retired", "all", NULL } },
	    .description = "Repeatable; Active when absent; all alone for every status." }, false },
	{ "tag", OP_IN_QUERY, &(const struct schema){ .type = SCHEMA_STRING, .min_length = 1,
	    .max_length = CAUTION_TAG_MAX, .description = "Trimmed, then matched exactly "
		"(case-sensitive) against one of the tags." }, false },
	{ "authored_by", OP_IN_QUERY, &(const struct schema){ .type = SCHEMA_STRING,
	    .format = SCHEMA_FORMAT_UUID }, false },
	{ "include_expired", OP_IN_QUERY, &(const struct schema){ .type = SCHEMA_BOOLEAN,
	    .default_json = "true", .description = "false: leave out cautions whose expires_at "
		"has passed." }, false },
	{ NULL, 0, NULL, false },
};

static const struct schema caution_id_result = { .type = SCHEMA_OBJECT,
	.props = (const struct schema_prop[]){
		{ "caution_id", &uuid, true },
		{ NULL, NULL, false } } };

/* The keys every read answers with, in order (GET adds none, the list
 * registered_at and last_status_changed_at). */
#define CAUTION_KEYS(id_key) \
	{ id_key, &uuid, true }, \
	{ "target", &target, true }, \
	{ "category", &str, true }, \
	{ "severity", &str, true }, \
	{ "text", &str, true }, \
	{ "workaround", &str, true }, \
	{ "authored_by", &uuid, true }, \
	{ "tags", &tag_list, true }, \
	{ "expires_at", &nullable_timestamp, true }, \
	{ "propagate_to_children", &boolean, true }, \
	{ "status", &status, true }, \
	{ "parent_id", &nullable_uuid, true }, \
	{ "superseded_by_caution_id", &nullable_uuid, true }, \
	{ "retired_reason", &nullable_reason, true }

static const struct schema caution_result = { .type = SCHEMA_OBJECT,
	.props = (const struct schema_prop[]){
		CAUTION_KEYS("id"),
		{ "expired", &boolean, true },
		{ NULL, NULL, false } } };

static const struct schema list_result = { .type = SCHEMA_OBJECT,
	.props = (const struct schema_prop[]){
		{ "items", &(const struct schema){ .type = SCHEMA_ARRAY,
		    .items = &(const struct schema){ .type = SCHEMA_OBJECT,
			.props = (const struct schema_prop[]){
			    CAUTION_KEYS("caution_id"),
			    { "registered_at", &timestamp, true },
			    { "last_status_changed_at", &nullable_timestamp, true },
			    { "expired", &boolean, true },
			    { NULL, NULL, false } } } }, true },
		{ "next_cursor", &nullable_str, true },
		{ NULL, NULL, false } } };

/* --- operations ------------------------------------------------------------ */

static const struct operation operations[] = {
	{ .context = "caution", .name = "RegisterCaution", .verb = "register_caution",
	  .kind = OP_COMMAND, .method = METHOD_POST, .path = "/cautions",
	  .handler = handle_register_caution, .principal = true, .idempotent = true,
	  .idem_command = caution_idem_command, .idem_result = "caution_id",
	  .summary = "Register a caution on an Asset or a Procedure. Returns its caution_id.",
	  .body = &content, .tool = "register_caution",
	  .status = 201, .result = &caution_id_result, .errors = (const int[]){ 400, 409, 0 } },
	{ .context = "caution", .name = "SupersedeCaution", .verb = "supersede_caution",
	  .kind = OP_COMMAND, .method = METHOD_POST, .path = "/cautions/{parent_id}/supersede",
	  .handler = handle_supersede_caution, .principal = true, .idempotent = true,
	  .idem_command = caution_idem_command, .idem_result = "caution_id",
	  .summary = "Replace an Active caution by a corrected one on the same target; the "
	      "new caution takes nothing from the old. Returns the new caution_id.",
	  .params = parent_path, .body = &content, .tool = "supersede_caution",
	  .status = 201, .result = &caution_id_result,
	  .errors = (const int[]){ 400, 404, 409, 0 } },
	{ .context = "caution", .name = "RetireCaution", .verb = "retire_caution",
	  .kind = OP_COMMAND, .method = METHOD_POST, .path = "/cautions/{caution_id}/retire",
	  .handler = handle_retire_caution, .principal = true,
	  .summary = "Retire an Active caution; terminal.",
	  .params = caution_path, .body = &retire_body, .tool = "retire_caution",
	  .tool_echo = "caution_id",
	  .status = 204, .errors = (const int[]){ 404, 409, 0 } },
	{ .context = "caution", .name = "GetCaution", .verb = "get_caution",
	  .kind = OP_QUERY, .method = METHOD_GET, .path = "/cautions/{caution_id}",
	  .handler = handle_get_caution, .principal = true,
	  .summary = "Read one caution from its event stream.",
	  .params = caution_path, .tool = "get_caution",
	  .status = 200, .result = &caution_result, .errors = (const int[]){ 404, 0 } },
	{ .context = "caution", .name = "ListCautions", .verb = "list_cautions",
	  .kind = OP_QUERY, .method = METHOD_GET, .path = "/cautions",
	  .handler = handle_list_cautions, .log_start = log_start_list_cautions, .principal = true,
	  .summary = "List cautions, oldest first, a page at a time; Active ones unless "
	      "status says otherwise.",
	  .params = list_query, .tool = "list_cautions",
	  /* The original's names for them. */
	  .tool_aliases = (const char *const[]){ "severity", "severities", "status", "statuses",
	      NULL },
	  .status = 200, .result = &list_result, .errors = (const int[]){ 0 } },
	{ .name = NULL },
};

/* --- the workers' statements ----------------------------------------------- */

#define UTC(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* One page of the list: the columns of each item in the keys' order (see
 * list_cautions.c), then whether it has expired. Every page starts at its
 * cursor in the keyset index (the first at the cursor before everything);
 * the tag filter is a statement of its own so that its plan can use the
 * GIN index on tags. */
#define LIST_CAUTIONS(tag_filter) \
	"SELECT caution_id, target_kind, target_id, category, severity, text, workaround," \
	" authored_by, array_to_json(tags)::text, " UTC("expires_at") "," \
	" propagate_to_children, status, parent_id, superseded_by_caution_id, retired_reason," \
	" " UTC("registered_at") ", " UTC("last_status_changed_at") "," \
	" coalesce(expires_at <= now(), false)" \
	" FROM proj_caution_summary" \
	" WHERE ($1::text[] IS NULL OR target_kind = ANY ($1))" \
	"   AND ($2::uuid IS NULL OR target_id = $2)" \
	"   AND ($3::text IS NULL OR category = $3)" \
	"   AND ($4::text[] IS NULL OR severity = ANY ($4))" \
	"   AND ($5::text[] IS NULL OR status = ANY ($5))" \
	"   AND ($6::uuid IS NULL OR authored_by = $6)" \
	"   AND ($7::boolean OR expires_at IS NULL OR expires_at > now())" \
	"   AND (registered_at, caution_id) > ($8::timestamptz, $9::uuid)" \
	tag_filter \
	" ORDER BY registered_at, caution_id LIMIT $10::int"

static const struct statement statements[] = {
	{ "list_cautions", LIST_CAUTIONS("") },
	{ "list_cautions_tag", LIST_CAUTIONS("   AND tags @> ARRAY[$11::text]") },
	{ NULL, NULL },
};

static const char *const tables[] = { "proj_caution_summary", NULL };

const struct context caution_context = {
	.name = "caution",
	.operations = operations,
	.statements = statements,
	.projections = caution_projections,
	.tables = tables,
};
