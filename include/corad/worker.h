/*
 * worker: the request pipeline of a worker process, from an accepted
 * request to its stats record.
 */
#ifndef CORAD_WORKER_H
#define CORAD_WORKER_H

struct request;

/*
 * Serves one request whose parameters (r->fcgi->envp) and I/O (r->io) are
 * set: every pipeline step, the handler, the answer, the span and the
 * stats record. The fuzzers drive it with memory in place of a connection.
 */
void		worker_serve_one(struct request *r);

#endif
