/* access_input: the RegisterActor body, validated the original's way. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/input.h"
#include "corad/alloc.h"
#include "corad/utf8.h"

#define NAME_MAX_CHARS	200

static const char *const kind_names[] = {
	[ACTOR_KIND_HUMAN] = "human",
	[ACTOR_KIND_SERVICE_ACCOUNT] = "service_account",
	[ACTOR_KIND_AGENT] = "agent",
	NULL,
};

/* The name as sent must be 1..200 code points (checked by the schema,
 * 422); trimmed, it must still be (checked by register_check, 400). */
const struct schema register_actor_body = {
	.type = SCHEMA_OBJECT,
	.props = (const struct schema_prop[]){
		{ "name", &(const struct schema){ .type = SCHEMA_STRING,
		    .min_length = 1, .max_length = NAME_MAX_CHARS }, true },
		{ "kind", &(const struct schema){ .type = SCHEMA_STRING, .enums = kind_names,
		    .default_json = "\"human\"",
		    .description = "agent is refused with 400: agents are not registered here" },
		    false },
		{ NULL, NULL, false },
	},
};

const char *
actor_kind_name(enum actor_kind k)
{
	if ((unsigned)k >= sizeof kind_names / sizeof kind_names[0] - 1)
		return NULL;
	return kind_names[k];
}

int
actor_kind_parse(const char *s, enum actor_kind *out)
{
	if (s == NULL)
		return -1;
	for (size_t i = 0; kind_names[i] != NULL; i++)
		if (strcmp(s, kind_names[i]) == 0) {
			*out = (enum actor_kind)i;
			return 0;
		}
	return -1;
}

void
register_cmd_free(struct register_cmd *cmd)
{
	if (cmd == NULL)
		return;
	free(cmd->name);
	cmd->name = NULL;
}

static void
set_detail(char *detail, size_t dlen, const char *msg)
{
	if (detail != NULL && dlen > 0)
		snprintf(detail, dlen, "%s", msg);
}

enum cora_err
register_check(json_object *input, struct register_cmd *cmd, char *detail, size_t dlen)
{
	json_object *jname = NULL, *jkind = NULL;
	const char *name, *trimmed;
	size_t name_len, tlen, cps;
	enum actor_kind kind = ACTOR_KIND_HUMAN;

	cmd->name = NULL;
	cmd->kind = ACTOR_KIND_HUMAN;
	set_detail(detail, dlen, "");
	json_object_object_get_ex(input, "name", &jname);
	json_object_object_get_ex(input, "kind", &jkind);
	name = json_object_get_string(jname);
	name_len = (size_t)json_object_get_string_len(jname);
	(void)actor_kind_parse(json_object_get_string(jkind), &kind);
	trimmed = utf8_strip_py(name, name_len, &tlen);
	cps = utf8_codepoints(trimmed, tlen);
	if (cps < 1 || cps > NAME_MAX_CHARS) {
		set_detail(detail, dlen, "Actor name must be 1-200 chars after trimming");
		return CORA_ERR_BAD_REQUEST;
	}
	if (memchr(trimmed, '\0', tlen) != NULL) {
		set_detail(detail, dlen, "Actor name must not contain NUL characters");
		return CORA_ERR_BAD_REQUEST;
	}
	if (kind == ACTOR_KIND_AGENT) {
		set_detail(detail, dlen, "Actor kind 'agent' cannot be registered through this API");
		return CORA_ERR_BAD_REQUEST;
	}
	cmd->name = xstrndup(trimmed, tlen);
	cmd->kind = kind;
	return CORA_OK;
}

enum cora_err
register_parse(const char *body, size_t len, struct register_cmd *cmd,
    json_object **errors, char *detail, size_t dlen)
{
	json_object *list = json_object_new_array(), *input;
	enum cora_err e;

	cmd->name = NULL;
	cmd->kind = ACTOR_KIND_HUMAN;
	*errors = NULL;
	set_detail(detail, dlen, "");
	if ((input = schema_validate_body(&register_actor_body, body, len, list)) == NULL) {
		*errors = list;
		return CORA_ERR_VALIDATION;
	}
	json_object_put(list);
	e = register_check(input, cmd, detail, dlen);
	json_object_put(input);
	return e;
}
