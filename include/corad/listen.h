/* listen: the FastCGI listen socket, opened or inherited. */
#ifndef CORAD_LISTEN_H
#define CORAD_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

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

/*
 * What corad check can tell of listen_open without taking the socket (a
 * check runs beside the server it checks, before a reload): that the
 * runtime directory exists or its parent does, and that a unix socket's
 * directory is there, or a TCP address resolves. Permissions are not
 * judged (systemd makes the runtime directory for the service's user when
 * it starts). 0, or -1 with a message; *tcp says whether it would be TCP.
 */
int	listen_check(const char *spec, const char *runtime_dir, bool *tcp, char *err,
	    size_t errlen);

/*
 * FCGI_WEB_SERVER_ADDRS: the addresses a TCP connection may come from
 * (libfcgi's variable, which corad honours itself since it accepts
 * connections itself). Comma-separated IPv4 and IPv6 addresses; an IPv4
 * entry also admits its IPv4-mapped IPv6 form.
 */
#define LISTEN_ALLOW_MAX	32

struct listen_allow {
	size_t	 n;		/* 0: every peer (the variable is unset) */
	struct {
		int	 family;	/* AF_INET or AF_INET6 */
		uint8_t	 addr[16];
	}	 a[LISTEN_ALLOW_MAX];
};

/* Parses the list (NULL or "" gives n = 0); -1 with a reason in err. */
int	listen_allow_parse(const char *spec, struct listen_allow *out, char *err, size_t errlen);

/* Whether a peer may talk to corad: every Unix-socket peer, a TCP peer
 * only when the list is empty or names its address. */
bool	listen_peer_allowed(const struct listen_allow *allow, const struct sockaddr *sa,
	    socklen_t len);

/* Whether fd is a TCP (not a Unix) socket. */
bool	listen_is_tcp(int fd);

#endif
