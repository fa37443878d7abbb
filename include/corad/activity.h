/*
 * activity: what a worker is doing right now, for the slow-request log and
 * /status (doc/design.md, "Metrics, status, logs and traces"). A module
 * low in the graph (the store) says what it waits for without knowing
 * where it is shown: the worker installs the hook that writes its
 * scoreboard slot. Without a hook (tools, tests) it does nothing.
 */
#ifndef CORAD_ACTIVITY_H
#define CORAD_ACTIVITY_H

/* Installs the function that records `what` (a static string or one that
 * outlives the call, copied by the hook); NULL removes it. */
void	activity_hook(void (*record)(const char *what, const char *detail));

/* Records what the process does now: what ("database") and a detail
 * ("list_cautions"), or NULL. */
void	activity(const char *what, const char *detail);

#endif
