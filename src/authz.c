/* authz: the JSON authorization policy (doc/design.md, "Authorization"). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "corad/alloc.h"
#include "corad/authz.h"
#include "corad/ids.h"
#include "corad/route.h"

struct authz_rule {
	char	**principals;	/* canonical UUIDs or "*" */
	size_t	  nprincipals;
	char	**names;
	size_t	  nnames;
	bool	  allow;
};

struct authz_policy {
	bool			 default_allow;
	struct authz_rule	*rules;
	size_t			 nrules;
};

/* The commands and queries of the registered contexts (route.h). */
bool
authz_known_name(const char *name)
{
	const struct operation *op = route_find(name);

	return op != NULL && op->context != NULL;
}

/* "RegisterActor, DeactivateActor, ..." for an error message (a new string). */
static char *
known_names(void)
{
	char *s = xstrdup("");

	for (size_t i = 0; i < route_nops(); i++) {
		const struct operation *op = route_op_at(i);
		char *more;

		if (op->context == NULL)
			continue;
		more = xasprintf("%s%s%s", s, s[0] != '\0' ? ", " : "", op->name);
		free(s);
		s = more;
	}
	return s;
}

static int
parse_effect(json_object *o, bool *allow)
{
	const char *s;

	if (!json_object_is_type(o, json_type_string))
		return -1;
	s = json_object_get_string(o);
	if (strcmp(s, "allow") == 0)
		*allow = true;
	else if (strcmp(s, "deny") == 0)
		*allow = false;
	else
		return -1;
	return 0;
}

/* Copies a JSON array of strings, checking each; -1 with a reason. */
static int
parse_list(json_object *arr, bool principals, char ***out, size_t *n,
    char *err, size_t errlen)
{
	size_t len;

	if (!json_object_is_type(arr, json_type_array) ||
	    (len = json_object_array_length(arr)) == 0) {
		snprintf(err, errlen, "must be a non-empty array of strings");
		return -1;
	}
	*out = xcalloc(len, sizeof(char *));
	*n = 0;
	for (size_t i = 0; i < len; i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		const char *s;
		char canon[UUID_STR_LEN];

		if (!json_object_is_type(e, json_type_string)) {
			snprintf(err, errlen, "element %zu is not a string", i);
			return -1;
		}
		s = json_object_get_string(e);
		if (strcmp(s, "*") != 0) {
			if (principals) {
				uint8_t id[16];
				struct uuid_error ue;

				if (!uuid_parse_text(s, id, &ue)) {
					snprintf(err, errlen, "'%s' is not a UUID or \"*\"", s);
					return -1;
				}
				uuid_format(id, canon);
				s = canon;
			} else if (!authz_known_name(s)) {
				char *names = known_names();

				snprintf(err, errlen, "'%s' is not a command or query name (%s) or \"*\"",
				    s, names);
				free(names);
				return -1;
			}
		}
		(*out)[(*n)++] = xstrdup(s);
	}
	return 0;
}

/* The largest policy file read; a larger one is refused, not truncated. */
#define POLICY_MAX_BYTES	(1 << 20)

/* Line and column (from 1, in bytes) of offset `off` of text. */
static void
line_column(const char *text, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n') {
			++*line;
			*col = 1;
		} else
			++*col;
	}
}

/* The policy file as JSON, or NULL with the error in err: "cannot open
 * FILE: reason", or "FILE line L column C: what is wrong" as compilers and
 * nginx -t say it. */
static json_object *
read_policy(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *text;
	size_t len;
	json_tokener *tok;
	json_object *root;
	enum json_tokener_error je;
	const char *what = NULL;
	size_t end;
	int line, col;

	if (f == NULL) {
		snprintf(err, errlen, "AUTHZ_POLICY_FILE: cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	text = xmalloc(POLICY_MAX_BYTES + 1);
	len = fread(text, 1, POLICY_MAX_BYTES + 1, f);
	if (ferror(f) || len > POLICY_MAX_BYTES) {
		snprintf(err, errlen, "AUTHZ_POLICY_FILE: cannot read %s: %s", path,
		    ferror(f) ? strerror(errno) : "larger than 1 MiB");
		fclose(f);
		free(text);
		return NULL;
	}
	fclose(f);
	text[len] = '\0';
	tok = json_tokener_new();
	root = json_tokener_parse_ex(tok, text, (int)len);
	je = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (je == json_tokener_continue || (je == json_tokener_success && root == NULL))
		what = "the file ends before the JSON does";
	else if (je != json_tokener_success)
		what = json_tokener_error_desc(je);
	else {
		while (end < len && strchr(" \t\r\n", text[end]) != NULL)
			end++;
		if (end < len)
			what = "unexpected text after the JSON value";
	}
	if (what != NULL) {
		line_column(text, end, &line, &col);
		snprintf(err, errlen, "AUTHZ_POLICY_FILE: %s line %d column %d: %s", path, line, col,
		    what);
		json_object_put(root);
		root = NULL;
	}
	json_tokener_free(tok);
	free(text);
	return root;
}

struct authz_policy *
authz_load(const char *path, char *err, size_t errlen)
{
	struct authz_policy *p;
	json_object *root = read_policy(path, err, errlen), *def, *rules;
	char why[256] = "";

	if (root == NULL)
		return NULL;
	p = xcalloc(1, sizeof(*p));
	if (!json_object_is_type(root, json_type_object)) {
		snprintf(why, sizeof(why), "the top level must be an object");
		goto fail;
	}
	if (!json_object_object_get_ex(root, "default", &def) ||
	    parse_effect(def, &p->default_allow) != 0) {
		snprintf(why, sizeof(why), "\"default\" must be \"allow\" or \"deny\"");
		goto fail;
	}
	if (!json_object_object_get_ex(root, "rules", &rules))
		rules = NULL;
	if (rules != NULL && !json_object_is_type(rules, json_type_array)) {
		snprintf(why, sizeof(why), "\"rules\" must be an array");
		goto fail;
	}
	if (rules != NULL) {
		size_t n = json_object_array_length(rules);

		p->rules = xcalloc(n, sizeof(*p->rules));
		for (size_t i = 0; i < n; i++) {
			json_object *r = json_object_array_get_idx(rules, i), *f;
			struct authz_rule *rule = &p->rules[p->nrules++];
			char sub[200];

			if (!json_object_is_type(r, json_type_object)) {
				snprintf(why, sizeof(why), "rule %zu is not an object", i + 1);
				goto fail;
			}
			if (!json_object_object_get_ex(r, "principals", &f) ||
			    parse_list(f, true, &rule->principals, &rule->nprincipals, sub, sizeof(sub)) != 0) {
				snprintf(why, sizeof(why), "rule %zu \"principals\": %s", i + 1,
				    f == NULL ? "missing" : sub);
				goto fail;
			}
			if (!json_object_object_get_ex(r, "commands", &f) ||
			    parse_list(f, false, &rule->names, &rule->nnames, sub, sizeof(sub)) != 0) {
				snprintf(why, sizeof(why), "rule %zu \"commands\": %s", i + 1,
				    f == NULL ? "missing" : sub);
				goto fail;
			}
			if (!json_object_object_get_ex(r, "effect", &f) ||
			    parse_effect(f, &rule->allow) != 0) {
				snprintf(why, sizeof(why), "rule %zu \"effect\" must be \"allow\" or \"deny\"", i + 1);
				goto fail;
			}
		}
	}
	json_object_put(root);
	return p;
fail:
	snprintf(err, errlen, "AUTHZ_POLICY_FILE: %s: %s", path, why);
	json_object_put(root);
	authz_free(p);
	return NULL;
}

void
authz_free(struct authz_policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nrules; i++) {
		for (size_t j = 0; j < p->rules[i].nprincipals; j++)
			free(p->rules[i].principals[j]);
		for (size_t j = 0; j < p->rules[i].nnames; j++)
			free(p->rules[i].names[j]);
		free(p->rules[i].principals);
		free(p->rules[i].names);
	}
	free(p->rules);
	free(p);
}

static bool
list_has(char **list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], "*") == 0 || strcmp(list[i], s) == 0)
			return true;
	return false;
}

void
authz_decide(const struct authz_policy *p, const char *principal, const char *name,
    struct authz_verdict *v)
{
	if (p == NULL) {
		v->allowed = true;
		snprintf(v->reason, sizeof(v->reason), "no authorization policy configured");
		return;
	}
	for (size_t i = 0; i < p->nrules; i++) {
		const struct authz_rule *r = &p->rules[i];

		if (list_has(r->principals, r->nprincipals, principal) &&
		    list_has(r->names, r->nnames, name)) {
			v->allowed = r->allow;
			snprintf(v->reason, sizeof(v->reason), "%s %s by policy rule %zu",
			    name, r->allow ? "allowed" : "denied", i + 1);
			return;
		}
	}
	v->allowed = p->default_allow;
	snprintf(v->reason, sizeof(v->reason), "%s %s by the policy default (no rule matched)",
	    name, p->default_allow ? "allowed" : "denied");
}
