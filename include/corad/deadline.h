/*
 * deadline: a worker's request deadline, CORA_REQUEST_TIMEOUT_SECONDS
 * (doc/design.md, "The request pipeline"). The time
 * counts from the request's start; the timer (one of the worker's own, on
 * SIGRTMIN, so that no alarm of a library or a tool collides with it) is
 * armed only when the request first needs the database, so requests that
 * never touch it pay no system call. When it fires it cancels the
 * statement in flight (PQcancel, from a child, since the server may never
 * answer it) and interrupts a connect or prepare in progress; a statement
 * still running a second later loses its session. The worker then answers
 * 504. This module calls nothing of corad's.
 */
#ifndef CORAD_DEADLINE_H
#define CORAD_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

/* Creates the timer and its signal handler (once, in the worker); false
 * when the system has no timer left, and requests then have no deadline. */
bool	deadline_install(void);

/* A request starts now, with `seconds` (0: no deadline). */
void	deadline_start(double seconds);

/* Arms the timer for what is left, once per request (later calls do
 * nothing); returns false when the request has no deadline. */
bool	deadline_arm(void);

/* The connection whose statement the timer cancels (NULL: none), and its
 * socket, shut down when the statement outlives the cancel by a second. */
void	deadline_set_cancel(PGcancel *cancel, int fd);

/* Seconds left (negative once passed); a large number without a deadline. */
double	deadline_left(void);

/* CLOCK_MONOTONIC milliseconds at which the request's time is up, or -1. */
int64_t	deadline_at_ms(void);

/* Whether the timer fired during this request. */
bool	deadline_expired(void);

/* The request is over: stops the timer and forgets the cancel object.
 * Returns whether the deadline had passed. */
bool	deadline_finish(void);

#endif
