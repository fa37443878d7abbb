/*
 * caution: the Caution bounded context (src/caution/; doc/design.md, "The
 * Caution context"). An operator's note on an Asset or a Procedure, Active
 * until Superseded by a corrected note or Retired. The aggregate's fold and
 * decisions (caution.c) do no I/O; the handlers, one file each, do.
 */
#ifndef CORAD_CAUTION_H
#define CORAD_CAUTION_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "corad/ids.h"
#include "corad/projection.h"
#include "corad/reply.h"
#include "corad/store.h"

struct context;
struct request;

/* What src/contexts.c registers. */
extern const struct context caution_context;
/* The kinds a caution's target may have, NULL-terminated. */
extern const char *const caution_target_kinds[];

#define CAUTION_TEXT_MAX	2000	/* text and workaround, in code points */
#define CAUTION_TAG_MAX		50	/* one tag, in code points */
#define CAUTION_TAGS_MAX	50	/* tags on one caution */

enum caution_status {
	CAUTION_NONE,		/* no CautionRegistered in the stream */
	CAUTION_ACTIVE,
	CAUTION_SUPERSEDED,
	CAUTION_RETIRED,
};

/* "Active", "Superseded", "Retired" (NULL for CAUTION_NONE). */
const char	*caution_status_name(enum caution_status s);

/*
 * The caution as its stream tells it. Stored events are trusted as they
 * are, never validated again: a foreign writer's event still folds.
 */
struct caution_state {
	enum caution_status	 status;
	int			 version;	/* last event's version, 0 for none */
	json_object		*registered;	/* the CautionRegistered payload */
	json_object		*superseded_by;	/* a string, or NULL */
	json_object		*retired_reason;
};

/* Applies one event; -1 (nothing changed) for an event type the fold does
 * not know, or a transition before the stream's CautionRegistered. */
int	caution_fold(struct caution_state *s, const char *event_type, json_object *payload);
void	caution_state_free(struct caution_state *s);

/* The caution as GET /cautions/{id} answers it: the 14 keys of the
 * original in order, then "expired" (true once expires_at <= now_us). */
json_object	*caution_render(const struct caution_state *s, const char *id, int64_t now_us);

/* The content of a register or supersede request once the domain accepted it. */
struct caution_fields {
	json_object	*input;		/* the validated body (borrowed) */
	char		*text;		/* trimmed; owned */
	char		*workaround;	/* trimmed; owned */
	json_object	*tags;		/* trimmed, unique, sorted; owned */
	char		 expires_at[40];/* isoformat in the caller's offset, or "" */
};

/*
 * The domain's checks of a body the schema accepted, in a fixed order:
 * text, workaround, the tags in code-point order, then expires_at against
 * now_us. CORA_OK with f filled (free it with caution_fields_free), or
 * CORA_ERR_BAD_REQUEST with the original's text in *detail (the caller
 * frees it).
 */
enum cora_err	caution_check_fields(json_object *input, int64_t now_us,
		    struct caution_fields *f, char **detail);
void		caution_fields_free(struct caution_fields *f);

/*
 * A register or supersede command as its Idempotency-Key's hash sees it:
 * the validated parameters and body, with the tags as a set (sorted, each
 * once; none for null) and expires_at as the event would keep it, so that
 * a retry that sends the same command another way replays it.
 */
json_object	*caution_command(json_object *params, json_object *input);

enum caution_refusal {
	CAUTION_OK,
	CAUTION_NOT_FOUND,	/* 404 Caution <id> not found */
	CAUTION_NOT_ACTIVE,	/* 409 cannot be superseded / retired */
	CAUTION_RETARGETED,	/* 400 supersede preserves target */
};

/* Whether a caution can be superseded or retired: it exists and is Active. */
enum caution_refusal	caution_can_change(const struct caution_state *s);

/* Whether a supersede keeps the parent's target (kind and id). */
enum caution_refusal	caution_same_target(const struct caution_state *parent,
			    const struct caution_fields *f);

/* The events' payloads (new objects). */
json_object	*caution_registered(const struct caution_fields *f, const char *id,
		    const char *author, const char *parent_id, const char *now);
json_object	*caution_superseded(const char *parent_id, const char *child_id, const char *now);
json_object	*caution_retired(const char *id, const char *reason, const char *now);

/* --- the handlers, one file each, and what they share (common.c) -------- */

enum cora_err	handle_register_caution(struct request *r);
enum cora_err	handle_supersede_caution(struct request *r);
enum cora_err	handle_retire_caution(struct request *r);
enum cora_err	handle_get_caution(struct request *r);
enum cora_err	handle_list_cautions(struct request *r);
void		log_start_list_cautions(struct request *r);

/* The projection of the caution list (projection.c). */
extern const struct projection caution_projections[];

/* Authorizes the request's operation, then loads and folds the stream
 * Caution/<id> (caution_state_free it); 503 without a database. */
enum cora_err	caution_load(struct request *r, const char *id, struct caution_state *s);

/* The response error of a refusal; `done` is what the command would have
 * done ("superseded", "retired"), for the 409. */
enum cora_err	caution_refuse(struct request *r, enum caution_refusal why, const char *id,
		    const struct caution_state *s, const char *done);

/* caution_command() of the request (the operations' idem_command). */
json_object	*caution_idem_command(const struct request *r);

/* Now, as the events' payloads and envelopes write it: Python's isoformat
 * with +00:00, the fraction only when not zero. */
void		caution_now(char now[40]);

/* Appends events and the allowing verdict in one transaction, settling the
 * Idempotency-Key with (status, reply) when one was claimed. */
enum cora_err	caution_commit(struct request *r, const struct new_event *evs,
		    const int *expected, size_t n, int status, const char *reply);

#endif
