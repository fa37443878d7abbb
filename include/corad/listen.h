/* listen: the FastCGI listen socket, opened or inherited (SPEC section 1). */
#ifndef CORAD_LISTEN_H
#define CORAD_LISTEN_H

#include <stddef.h>

enum listen_kind {
	LISTEN_UNIX,	/* "unix:/path" */
	LISTEN_TCP,	/* "host:port", "[v6]:port" */
};

struct listen_addr {
	enum listen_kind kind;
	char		 path[108];	/* LISTEN_UNIX */
	char		 host[256];	/* LISTEN_TCP */
	char		 port[6];
};

/* Parses CORA_LISTEN; false with a reason in err. */
int	listen_parse(const char *spec, struct listen_addr *out, char *err, size_t errlen);

/*
 * Returns the listen fd: CORA_LISTEN when set; else a socket passed by
 * systemd (LISTEN_FDS/LISTEN_PID); else fd 0 when it is a listening socket
 * (spawn-fcgi); else unix:<runtime_dir>/corad.sock. A unix socket is created
 * with mode 0660. -1 with a message in err on failure. *owned_path receives
 * the path to unlink at exit ("" when the socket was inherited).
 */
int	listen_open(const char *spec, const char *runtime_dir,
	    char *owned_path, size_t pathlen, char *err, size_t errlen);

#endif
