/*
 * request: one FastCGI request and what is allocated for it, and every
 * response corad sends (status, JSON content type, X-Correlation-Id); one
 * function, reply_error_render(), turns an error code into status and body.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "corad/activity.h"
#include "corad/alloc.h"
#include "corad/request.h"
#include "corad/route.h"
#include "corad/utf8.h"

#define REPLY_SENDING_BYTES	8192	/* libfcgi's stream buffer */

void
request_end_operation(struct request *r)
{
	free(r->error_detail);
	free(r->captured_body);
	free(r->idem.key);
	json_object_put(r->error_validation);
	json_object_put(r->params);
	json_object_put(r->input);
	r->error_detail = r->captured_body = NULL;
	r->error_validation = r->params = r->input = NULL;
	memset(&r->idem, 0, sizeof(r->idem));
	r->verdict[0] = '\0';
	r->idem_key = r->idem_surface = NULL;
	r->status = 0;
	r->retry_after = 0;
	r->end_logged = false;
}

void
request_reset(struct request *r)
{
	free(r->path_buf);
	free(r->body);
	request_end_operation(r);
	memset((char *)r + offsetof(struct request, method), 0,
	    sizeof(*r) - offsetof(struct request, method));
	r->content_length = -1;
	r->match.route = ROUTE_NONE;
}

enum cora_err
request_fail(struct request *r, enum cora_err e, const char *fmt, ...)
{
	va_list ap;

	free(r->error_detail);
	va_start(ap, fmt);
	r->error_detail = xvasprintf(fmt, ap);
	va_end(ap);
	return e;
}

json_object *
request_value(const struct request *r, const char *name)
{
	json_object *v = NULL;

	if (json_object_object_get_ex(r->params, name, &v) ||
	    json_object_object_get_ex(r->input, name, &v))
		return v;
	return NULL;
}

const char *
request_text(const struct request *r, const char *name)
{
	json_object *v = request_value(r, name);

	return v != NULL ? json_object_get_string(v) : NULL;
}

bool
request_body_is_json(const struct request *r)
{
	const char *ct = FCGX_GetParam("CONTENT_TYPE", r->fcgi->envp), *slash, *end;
	size_t n;

	if (ct == NULL)
		return true;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	end = ct + strcspn(ct, ";");
	while (end > ct && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end == ct)
		return true;
	if ((slash = memchr(ct, '/', (size_t)(end - ct))) == NULL ||
	    (size_t)(slash - ct) != 11 || strncasecmp(ct, "application", 11) != 0)
		return false;
	n = (size_t)(end - slash - 1);
	return (n == 4 && strncasecmp(slash + 1, "json", 4) == 0) ||
	    (n >= 5 && strncasecmp(end - 5, "+json", 5) == 0);
}

/* `checked`: the body is reply_body_string's, already valid UTF-8. */
static void
reply_send_typed(struct request *r, int status, const char *ctype,
    const char *extra, const char *body, size_t len, bool checked)
{
	char head[512], *fixed = NULL;
	size_t flen;
	int n;

	/* Every body is valid UTF-8: a last net under reply_body_string() for
	 * bodies built elsewhere (a replayed result, the stats child's /status). */
	if (body != NULL && !checked && (fixed = utf8_sanitize(body, len, &flen)) != NULL) {
		body = fixed;
		len = flen;
	}
	if (r->capture) {
		free(r->captured_body);
		r->captured_body = body != NULL ? xstrndup(body, len) : NULL;
		r->status = status;
		free(fixed);
		return;
	}
	if (body != NULL)
		n = snprintf(head, sizeof(head),
		    "Status: %d %s\r\nContent-Type: %s\r\nX-Correlation-Id: %s\r\n"
		    "%sContent-Length: %zu\r\n\r\n", status, http_reason(status),
		    ctype, r->correlation_id, extra != NULL ? extra : "", len);
	else
		n = snprintf(head, sizeof(head),
		    "Status: %d %s\r\nX-Correlation-Id: %s\r\n%s\r\n", status,
		    http_reason(status), r->correlation_id, extra != NULL ? extra : "");
	if (n < 0 || (size_t)n >= sizeof(head))
		n = 0;
	/* A body past libfcgi's buffer is written while it is built into
	 * records, and a peer that reads slowly holds the worker here: /status
	 * says so, not that the operation still runs. */
	if (len > REPLY_SENDING_BYTES)
		activity("sending the response", NULL);
	r->io->write(r, head, (size_t)n);
	if (body != NULL && len > 0)
		r->io->write(r, body, len);
	r->status = status;
	r->response_bytes = body != NULL ? len : 0;
	free(fixed);
}

void
reply_send(struct request *r, int status, const char *extra, const char *body, size_t len)
{
	reply_send_typed(r, status, "application/json", extra, body, len, false);
}

void
reply_text(struct request *r, int status, const char *ctype, const char *body, size_t len)
{
	reply_send_typed(r, status, ctype, NULL, body, len, false);
}

void
reply_json(struct request *r, int status, json_object *body)
{
	size_t len;
	const char *s = reply_body_string(body, &len);

	reply_send_typed(r, status, "application/json", NULL, s, len, true);
}

int
reply_error_render(struct request *r, enum cora_err e, char extra[128], json_object **body)
{
	const char *detail = r->error_detail;
	int status = cora_err_status(e);

	extra[0] = '\0';
	switch (e) {
	case CORA_OK:
	case CORA_ERR_VALIDATION:
		break;
	case CORA_ERR_METHOD: {
		char allow[64];

		route_allow(r->match.route, allow, sizeof(allow));
		snprintf(extra, 128, "Allow: %s\r\n", allow);
		detail = "Method Not Allowed";
		break;
	}
	case CORA_ERR_UNAUTHENTICATED:
		detail = "Missing X-Principal-Id header; this deployment requires "
		    "an authenticated principal.";
		break;
	case CORA_ERR_UNAVAILABLE:
		if (r->retry_after == 0)
			r->retry_after = 1;
		if (detail == NULL)
			detail = "Database unavailable";
		break;
	case CORA_ERR_INTERNAL:
		detail = "Internal Server Error";
		break;
	case CORA_ERR_NOT_IMPLEMENTED:
		detail = "Not implemented";
		break;
	default:
		if (detail == NULL)
			detail = http_reason(status);
		break;
	}
	if (e == CORA_ERR_VALIDATION) {
		*body = reply_validation_new(r->error_validation != NULL ?
		    r->error_validation : json_object_new_array());
		r->error_validation = NULL;
	} else
		*body = reply_detail_new(detail);
	if (r->retry_after > 0) {
		size_t off = strlen(extra);

		snprintf(extra + off, 128 - off, "Retry-After: %d\r\n", r->retry_after);
	}
	return status;
}

void
reply_error(struct request *r, enum cora_err e)
{
	char extra[128];
	json_object *body;
	int status;

	if (e == CORA_OK)
		return;
	status = reply_error_render(r, e, extra, &body);
	reply_json_headers(r, status, extra, body);
	json_object_put(body);
}

void
reply_json_headers(struct request *r, int status, const char *extra, json_object *body)
{
	size_t len;
	const char *s = reply_body_string(body, &len);

	reply_send(r, status, extra[0] != '\0' ? extra : NULL, s, len);
}
