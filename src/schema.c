/*
 * schema: validating inputs against their declaration, with the original's
 * (pydantic's) error types, messages and order, and the JSON Schema of a
 * declaration.
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "corad/alloc.h"
#include "corad/ids.h"
#include "corad/json.h"
#include "corad/reply.h"
#include "corad/rfc3339.h"
#include "corad/schema.h"
#include "corad/utf8.h"

/* loc + [key] or loc + [index], as a new array. */
static json_object *
loc_child(json_object *loc, const char *key, int index)
{
	json_object *l = json_object_new_array();

	for (size_t i = 0; i < json_object_array_length(loc); i++)
		json_object_array_add(l, json_object_get(json_object_array_get_idx(loc, i)));
	json_object_array_add(l, key != NULL ? json_object_new_string(key) :
	    json_object_new_int(index));
	return l;
}

static bool
fail(struct schema_check *c, const char *type, json_object *loc, const char *msg,
    json_object *input)
{
	validation_add_loc(c->errs, type, json_object_get(loc), msg, json_object_get(input));
	return false;
}

/* "Input should be 'a', 'b' or 'c'", as pydantic says what an enum allows. */
static char *
enum_message(const char *const *e)
{
	size_t n = 0, len = sizeof("Input should be");
	char *out;

	while (e[n] != NULL)
		len += strlen(e[n++]) + 6;	/* quotes and a separator of at most 4 */
	out = xmalloc(len);
	strcpy(out, "Input should be");
	for (size_t i = 0, off = strlen(out); i < n; i++)
		off += (size_t)snprintf(out + off, len - off, "%s'%s'",
		    i == 0 ? " " : i + 1 == n ? " or " : ", ", e[i]);
	return out;
}

static bool
is_enum_value(const struct schema *s, json_object *in)
{
	const char *v;
	size_t len;

	if (!json_object_is_type(in, json_type_string))
		return false;
	v = json_object_get_string(in);
	len = (size_t)json_object_get_string_len(in);
	for (size_t i = 0; s->enums[i] != NULL; i++)
		if (strlen(s->enums[i]) == len && memcmp(s->enums[i], v, len) == 0)
			return true;
	return false;
}

/* An RFC 3339 date-time with an offset, kept as sent: one without an
 * offset is refused, never guessed (only the client knows its zone). */
static bool
check_date_time(struct schema_check *c, json_object *in, json_object *loc, json_object **out)
{
	struct rfc3339 t;
	char why[RFC3339_WHY_LEN], *m;
	const char *v = json_object_get_string(in);
	size_t len = (size_t)json_object_get_string_len(in);

	if (!rfc3339_parse(v, len, &t, why)) {
		m = xasprintf("Input should be a valid datetime, %s", why);
		fail(c, "datetime_parsing", loc, m, in);
		free(m);
		return false;
	}
	if (!t.has_offset)
		return fail(c, "timezone_aware", loc, "Input should have timezone info", in);
	*out = json_object_get(in);
	return true;
}

static bool
check_string(struct schema_check *c, const struct schema *s, json_object *in,
    json_object *loc, json_object **out)
{
	const char *v;
	size_t len, cps;
	char msg[96];

	if (s->enums != NULL) {
		char *m;

		if (is_enum_value(s, in)) {
			*out = json_object_get(in);
			return true;
		}
		m = enum_message(s->enums);
		fail(c, "enum", loc, m, in);
		free(m);
		return false;
	}
	if (!json_object_is_type(in, json_type_string))
		return s->format == SCHEMA_FORMAT_UUID ?
		    fail(c, "uuid_type", loc, "UUID input should be a string, bytes or UUID object", in) :
		    s->format == SCHEMA_FORMAT_DATE_TIME ?
		    fail(c, "datetime_type", loc, "Input should be a valid datetime", in) :
		    fail(c, "string_type", loc, "Input should be a valid string", in);
	v = json_object_get_string(in);
	len = (size_t)json_object_get_string_len(in);
	if (c->json && !utf8_valid(v, len)) {
		/* json-c decoded an escape into bytes that are not UTF-8: the
		 * body is not JSON, as the original's decoder would say. (A path
		 * or query value that is not UTF-8 goes on to its checks.) */
		c->undecodable = true;
		return false;
	}
	if (s->format == SCHEMA_FORMAT_UUID) {
		struct uuid_error ue;
		uint8_t id[16];
		char canon[UUID_STR_LEN];

		if (memchr(v, '\0', len) != NULL || !uuid_parse_text(v, id, &ue)) {
			char *m;

			if (memchr(v, '\0', len) != NULL)
				snprintf(ue.msg, sizeof(ue.msg), "invalid character: NUL");
			m = xasprintf("Input should be a valid UUID, %s", ue.msg);
			fail(c, "uuid_parsing", loc, m, in);
			free(m);
			return false;
		}
		uuid_format(id, canon);
		*out = json_object_new_string(canon);
		return true;
	}
	if (s->format == SCHEMA_FORMAT_DATE_TIME)
		return check_date_time(c, in, loc, out);
	cps = utf8_codepoints(v, len);
	if (s->min_length > 0 && cps < s->min_length) {
		snprintf(msg, sizeof(msg), "String should have at least %zu character%s",
		    s->min_length, s->min_length == 1 ? "" : "s");
		return fail(c, "string_too_short", loc, msg, in);
	}
	if (s->max_length > 0 && cps > s->max_length) {
		snprintf(msg, sizeof(msg), "String should have at most %zu character%s",
		    s->max_length, s->max_length == 1 ? "" : "s");
		return fail(c, "string_too_long", loc, msg, in);
	}
	*out = json_object_get(in);
	return true;
}

/*
 * Text as pydantic reads an int from a string: White_Space around it, a
 * sign, digits with single underscores between them, and a fraction of
 * zeros ("5.00"). A number past long is clamped to LONG_MIN or LONG_MAX,
 * which the bounds then refuse, as pydantic refuses the big int it reads.
 */
static bool
parse_long(const char *text, size_t tlen, long *out)
{
	size_t len, i = 0;
	const char *s = utf8_strip_white_space(text, tlen, &len);
	bool neg = false, digit = false;
	unsigned long v = 0, lim;

	if (i < len && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	lim = neg ? (unsigned long)LONG_MAX + 1 : (unsigned long)LONG_MAX;
	for (; i < len; i++) {
		if (s[i] == '_' && digit && i + 1 < len && isdigit((unsigned char)s[i + 1]))
			continue;
		if (!isdigit((unsigned char)s[i]))
			break;
		digit = true;
		v = v > (lim - (unsigned long)(s[i] - '0')) / 10 ? lim : v * 10 + (unsigned long)(s[i] - '0');
	}
	if (!digit)
		return false;
	if (i < len && s[i] == '.') {
		if (++i == len)
			return false;
		while (i < len && s[i] == '0')
			i++;
	}
	if (i != len)
		return false;
	*out = neg ? (v == (unsigned long)LONG_MAX + 1 ? LONG_MIN : -(long)v) : (long)v;
	return true;
}

static bool
check_integer(struct schema_check *c, const struct schema *s, json_object *in,
    json_object *loc, json_object **out)
{
	char msg[96];
	long v;

	switch (json_object_get_type(in)) {
	case json_type_int:
		v = (long)json_object_get_int64(in);
		break;
	case json_type_double: {
		double d = json_object_get_double(in);

		if (!isfinite(d))
			return fail(c, "finite_number", loc, "Input should be a finite number", in);
		if (d != floor(d))
			return fail(c, "int_from_float", loc,
			    "Input should be a valid integer, got a number with a fractional part", in);
		/* Past long: clamped for the bounds to refuse, as parse_long. */
		v = d >= 0x1p63 ? LONG_MAX : d < -0x1p63 ? LONG_MIN : (long)d;
		break;
	}
	case json_type_string:
		if (!parse_long(json_object_get_string(in), (size_t)json_object_get_string_len(in), &v))
			return fail(c, "int_parsing", loc,
			    "Input should be a valid integer, unable to parse string as an integer", in);
		break;
	default:
		return fail(c, "int_type", loc, "Input should be a valid integer", in);
	}
	if (s->bounded && v < s->minimum) {
		snprintf(msg, sizeof(msg), "Input should be greater than or equal to %ld", s->minimum);
		return fail(c, "greater_than_equal", loc, msg, in);
	}
	if (s->bounded && v > s->maximum) {
		snprintf(msg, sizeof(msg), "Input should be less than or equal to %ld", s->maximum);
		return fail(c, "less_than_equal", loc, msg, in);
	}
	*out = json_object_new_int64(v);
	return true;
}

static bool
check_boolean(struct schema_check *c, json_object *in, json_object *loc, json_object **out)
{
	static const char *const yes[] = { "true", "1", "yes", "on", "t", "y", NULL };
	static const char *const no[] = { "false", "0", "no", "off", "f", "n", NULL };

	switch (json_object_get_type(in)) {
	case json_type_boolean:
		*out = json_object_get(in);
		return true;
	case json_type_int:
		if (json_object_get_int64(in) == 0 || json_object_get_int64(in) == 1) {
			*out = json_object_new_boolean(json_object_get_int64(in) == 1);
			return true;
		}
		break;
	case json_type_double:
		/* 1.0 and 0.0 as 1 and 0; any other number is no boolean. */
		if (json_object_get_double(in) == 0 || json_object_get_double(in) == 1) {
			*out = json_object_new_boolean(json_object_get_double(in) == 1);
			return true;
		}
		return fail(c, "bool_type", loc, "Input should be a valid boolean", in);
	case json_type_string:
		if (!json_str_plain(in))	/* "true\u0000x" is no boolean */
			break;
		for (size_t i = 0; yes[i] != NULL; i++) {
			if (strcasecmp(json_object_get_string(in), yes[i]) == 0) {
				*out = json_object_new_boolean(true);
				return true;
			}
			if (strcasecmp(json_object_get_string(in), no[i]) == 0) {
				*out = json_object_new_boolean(false);
				return true;
			}
		}
		break;
	default:
		return fail(c, "bool_type", loc, "Input should be a valid boolean", in);
	}
	return fail(c, "bool_parsing", loc, "Input should be a valid boolean, unable to interpret input",
	    in);
}

static bool
check_object(struct schema_check *c, const struct schema *s, json_object *in,
    json_object *loc, json_object **out)
{
	json_object *obj;
	bool ok = true;

	if (!json_object_is_type(in, json_type_object))
		return fail(c, "model_attributes_type", loc,
		    "Input should be a valid dictionary or object to extract fields from", in);
	obj = json_object_new_object();
	for (const struct schema_prop *p = s->props; p != NULL && p->name != NULL; p++) {
		json_object *v = NULL, *val = NULL, *l = loc_child(loc, p->name, 0);
		bool present = json_object_object_get_ex(in, p->name, &v);

		if (schema_validate(c, p->schema, p->required, present, v, l, in, &val)) {
			if (present || val != NULL)
				json_object_object_add(obj, p->name, val);
		} else
			ok = false;
		json_object_put(l);
	}
	if (!ok) {
		json_object_put(obj);
		return false;
	}
	*out = obj;
	return true;
}

static bool
check_array(struct schema_check *c, const struct schema *s, json_object *in,
    json_object *loc, json_object **out)
{
	json_object *arr;
	size_t n;
	bool ok = true;
	char msg[96];

	if (!json_object_is_type(in, json_type_array))
		return fail(c, "list_type", loc, "Input should be a valid list", in);
	n = json_object_array_length(in);
	if (s->max_items > 0 && n > s->max_items) {
		snprintf(msg, sizeof(msg), "List should have at most %zu item%s after validation, not %zu",
		    s->max_items, s->max_items == 1 ? "" : "s", n);
		return fail(c, "too_long", loc, msg, in);
	}
	arr = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		json_object *val = NULL, *l = loc_child(loc, NULL, (int)i);

		if (schema_validate(c, s->items, true, true, json_object_array_get_idx(in, i), l,
		    in, &val))
			json_object_array_add(arr, val);
		else
			ok = false;
		json_object_put(l);
	}
	if (!ok) {
		json_object_put(arr);
		return false;
	}
	*out = arr;
	return true;
}

bool
schema_validate(struct schema_check *c, const struct schema *s, bool required, bool present,
    json_object *in, json_object *loc, json_object *parent, json_object **out)
{
	*out = NULL;
	if (!present) {
		if (s->default_json != NULL) {
			*out = json_tokener_parse(s->default_json);
			return true;
		}
		if (required)
			return fail(c, "missing", loc, "Field required", parent);
		return true;
	}
	if (in == NULL && s->nullable)
		return true;
	switch (s->type) {
	case SCHEMA_STRING:
		return check_string(c, s, in, loc, out);
	case SCHEMA_INTEGER:
		return check_integer(c, s, in, loc, out);
	case SCHEMA_BOOLEAN:
		return check_boolean(c, in, loc, out);
	case SCHEMA_OBJECT:
		return check_object(c, s, in, loc, out);
	case SCHEMA_ARRAY:
		return check_array(c, s, in, loc, out);
	}
	return false;
}

static void
json_invalid(json_object *errs, size_t offset)
{
	validation_add_at(errs, "json_invalid", "body", offset > INT_MAX ? INT_MAX : (int)offset,
	    "JSON decode error", json_object_new_object());
}

json_object *
schema_validate_body(const struct schema *s, const char *body, size_t len, json_object *errs)
{
	struct schema_check c = { .errs = json_object_new_array(), .json = true };
	json_object *root = NULL, *loc, *out = NULL;
	size_t off;

	if (len == 0) {
		validation_add(errs, "missing", "body", NULL, "Field required", NULL);
		json_object_put(c.errs);
		return NULL;
	}
	if (!json_read(body, len, &root, &off)) {
		json_invalid(errs, off);
		json_object_put(c.errs);
		return NULL;
	}
	loc = json_object_new_array();
	json_object_array_add(loc, json_object_new_string("body"));
	if (!schema_validate(&c, s, true, true, root, loc, NULL, &out) && c.undecodable)
		json_invalid(errs, 0);
	else
		for (size_t i = 0; i < json_object_array_length(c.errs); i++)
			json_object_array_add(errs, json_object_get(json_object_array_get_idx(c.errs, i)));
	json_object_put(loc);
	json_object_put(root);
	json_object_put(c.errs);
	return out;
}

json_object *
schema_to_json(const struct schema *s)
{
	static const char *const types[] = {
		[SCHEMA_STRING] = "string", [SCHEMA_INTEGER] = "integer",
		[SCHEMA_BOOLEAN] = "boolean", [SCHEMA_OBJECT] = "object", [SCHEMA_ARRAY] = "array",
	};
	json_object *o = json_object_new_object();

	if (s->one_of != NULL) {
		json_object *alts = json_object_new_array();

		for (size_t i = 0; s->one_of[i] != NULL; i++)
			json_object_array_add(alts, schema_to_json(s->one_of[i]));
		json_object_object_add(o, "oneOf", alts);
		if (s->description != NULL)
			json_object_object_add(o, "description", json_object_new_string(s->description));
		return o;
	}
	if (s->nullable) {
		json_object *t = json_object_new_array();

		json_object_array_add(t, json_object_new_string(types[s->type]));
		json_object_array_add(t, json_object_new_string("null"));
		json_object_object_add(o, "type", t);
	} else
		json_object_object_add(o, "type", json_object_new_string(types[s->type]));
	if (s->format == SCHEMA_FORMAT_UUID)
		json_object_object_add(o, "format", json_object_new_string("uuid"));
	else if (s->format == SCHEMA_FORMAT_DATE_TIME)
		json_object_object_add(o, "format", json_object_new_string("date-time"));
	if (s->enums != NULL) {
		json_object *e = json_object_new_array();

		for (size_t i = 0; s->enums[i] != NULL; i++)
			json_object_array_add(e, json_object_new_string(s->enums[i]));
		if (s->nullable)
			json_object_array_add(e, NULL);
		json_object_object_add(o, "enum", e);
	}
	if (s->min_length > 0)
		json_object_object_add(o, "minLength", json_object_new_int64((int64_t)s->min_length));
	if (s->max_length > 0)
		json_object_object_add(o, "maxLength", json_object_new_int64((int64_t)s->max_length));
	if (s->bounded) {
		json_object_object_add(o, "minimum", json_object_new_int64(s->minimum));
		json_object_object_add(o, "maximum", json_object_new_int64(s->maximum));
	}
	if (s->max_items > 0)
		json_object_object_add(o, "maxItems", json_object_new_int64((int64_t)s->max_items));
	if (s->default_json != NULL)
		json_object_object_add(o, "default", json_tokener_parse(s->default_json));
	if (s->description != NULL)
		json_object_object_add(o, "description", json_object_new_string(s->description));
	if (s->type == SCHEMA_OBJECT) {
		json_object *props = json_object_new_object(), *req = json_object_new_array();

		for (const struct schema_prop *p = s->props; p != NULL && p->name != NULL; p++) {
			json_object_object_add(props, p->name, schema_to_json(p->schema));
			if (p->required)
				json_object_array_add(req, json_object_new_string(p->name));
		}
		json_object_object_add(o, "properties", props);
		if (json_object_array_length(req) > 0)
			json_object_object_add(o, "required", req);
		else
			json_object_put(req);
	}
	if (s->type == SCHEMA_ARRAY && s->items != NULL)
		json_object_object_add(o, "items", schema_to_json(s->items));
	return o;
}
