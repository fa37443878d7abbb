/* access_input: pure validation of the Access context's HTTP inputs (SPEC section 6). */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corad/alloc.h"
#include "corad/access_input.h"
#include "corad/json.h"
#include "corad/utf8.h"

#define NAME_MAX_CHARS	200

static const char *const kind_names[] = {
	[ACTOR_KIND_HUMAN] = "human",
	[ACTOR_KIND_SERVICE_ACCOUNT] = "service_account",
	[ACTOR_KIND_AGENT] = "agent",
};

const char *
actor_kind_name(enum actor_kind k)
{
	if ((unsigned)k >= sizeof kind_names / sizeof kind_names[0])
		return NULL;
	return kind_names[k];
}

int
actor_kind_parse(const char *s, enum actor_kind *out)
{
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < sizeof kind_names / sizeof kind_names[0]; i++) {
		if (strcmp(s, kind_names[i]) == 0) {
			*out = (enum actor_kind)i;
			return 0;
		}
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

/* The one-error list for a body that is not JSON. */
static json_object *
json_invalid_list(size_t offset)
{
	json_object *list = json_object_new_array();

	validation_add_at(list, "json_invalid", "body",
	    offset > INT_MAX ? INT_MAX : (int)offset, "JSON decode error",
	    json_object_new_object());
	return list;
}

static bool
body_blank(const unsigned char *body, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (body[i] != ' ' && body[i] != '\t' && body[i] != '\n' && body[i] != '\r')
			return false;
	return true;
}

/* A new reference to v for an error's "input" (NULL stays JSON null). */
static json_object *
ref(json_object *v)
{
	return json_object_get(v);
}

enum cora_err
register_parse(const char *body, size_t len, struct register_cmd *cmd,
    json_object **errors, char *detail, size_t dlen)
{
	const unsigned char *b = (const unsigned char *)body;
	json_object *root = NULL, *list = NULL, *jname = NULL, *jkind = NULL;
	enum actor_kind kind = ACTOR_KIND_HUMAN;
	const char *name = NULL, *trimmed;
	size_t name_len = 0, tlen, cps, off;
	enum cora_err ret;
	bool have_name, have_kind;

	cmd->name = NULL;
	cmd->kind = ACTOR_KIND_HUMAN;
	*errors = NULL;
	set_detail(detail, dlen, "");

	if (len == 0 || body_blank(b, len)) {
		list = json_object_new_array();
		validation_add(list, "missing", "body", NULL, "Field required",
		    NULL);
		*errors = list;
		return CORA_ERR_VALIDATION;
	}

	if (!json_read(body, len, &root, &off)) {
		*errors = json_invalid_list(off);
		return CORA_ERR_VALIDATION;
	}

	list = json_object_new_array();
	if (!json_object_is_type(root, json_type_object)) {
		validation_add(list, "model_attributes_type", "body", NULL,
		    "Input should be a valid dictionary or object to extract "
		    "fields from", ref(root));
		goto invalid;
	}

	/* name */
	have_name = json_object_object_get_ex(root, "name", &jname);
	if (!have_name)
		validation_add(list, "missing", "body", "name", "Field required",
		    ref(root));
	else if (!json_object_is_type(jname, json_type_string))
		validation_add(list, "string_type", "body", "name",
		    "Input should be a valid string", ref(jname));
	else {
		name = json_object_get_string(jname);
		name_len = (size_t)json_object_get_string_len(jname);
		if (!utf8_valid(name, name_len)) {
			/* json-c decoded an escape into bad bytes: not JSON */
			json_object_put(list);
			json_object_put(root);
			*errors = json_invalid_list(0);
			return CORA_ERR_VALIDATION;
		}
		cps = utf8_codepoints(name, name_len);
		if (cps < 1)
			validation_add(list, "string_too_short", "body", "name",
			    "String should have at least 1 character",
			    ref(jname));
		else if (cps > NAME_MAX_CHARS)
			validation_add(list, "string_too_long", "body", "name",
			    "String should have at most 200 characters",
			    ref(jname));
	}

	/* kind */
	have_kind = json_object_object_get_ex(root, "kind", &jkind);
	if (have_kind && (!json_object_is_type(jkind, json_type_string) ||
	    strlen(json_object_get_string(jkind)) !=
	    (size_t)json_object_get_string_len(jkind) ||
	    actor_kind_parse(json_object_get_string(jkind), &kind) != 0))
		validation_add(list, "enum", "body", "kind",
		    "Input should be 'human', 'service_account' or 'agent'",
		    ref(jkind));

	if (json_object_array_length(list) > 0)
		goto invalid;
	json_object_put(list);

	/* the domain's own rules, on the name as it will be stored */
	trimmed = utf8_strip_py(name, name_len, &tlen);
	cps = utf8_codepoints(trimmed, tlen);
	if (cps < 1 || cps > NAME_MAX_CHARS) {
		set_detail(detail, dlen,
		    "Actor name must be 1-200 chars after trimming");
		ret = CORA_ERR_BAD_REQUEST;
	} else if (memchr(trimmed, '\0', tlen) != NULL) {
		set_detail(detail, dlen,
		    "Actor name must not contain NUL characters");
		ret = CORA_ERR_BAD_REQUEST;
	} else if (kind == ACTOR_KIND_AGENT) {
		set_detail(detail, dlen,
		    "Actor kind 'agent' cannot be registered through this API");
		ret = CORA_ERR_BAD_REQUEST;
	} else {
		cmd->name = xmalloc(tlen + 1);
		memcpy(cmd->name, trimmed, tlen);
		cmd->name[tlen] = '\0';
		cmd->kind = kind;
		ret = CORA_OK;
	}
	json_object_put(root);
	return ret;

invalid:
	json_object_put(root);
	*errors = list;
	return CORA_ERR_VALIDATION;
}
