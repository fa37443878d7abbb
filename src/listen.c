/* listen: the FastCGI listen socket, opened or inherited. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "corad/listen.h"

#define LISTEN_BACKLOG	1024

int
listen_parse(const char *spec, struct listen_addr *out, char *err, size_t errlen)
{
	const char *colon;
	char *end;
	long port;

	memset(out, 0, sizeof(*out));
	if (strncmp(spec, "unix:", 5) == 0) {
		const char *path = spec + 5;

		if (path[0] != '/') {
			snprintf(err, errlen, "the socket path must be absolute");
			return -1;
		}
		if (strlen(path) >= sizeof(out->path)) {
			snprintf(err, errlen, "the socket path is longer than %zu bytes",
			    sizeof(out->path) - 1);
			return -1;
		}
		out->kind = LISTEN_UNIX;
		strcpy(out->path, path);
		return 0;
	}
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (close == NULL || close[1] != ':') {
			snprintf(err, errlen, "expected [ipv6]:port");
			return -1;
		}
		colon = close + 1;
		if ((size_t)(close - spec - 1) >= sizeof(out->host) || close == spec + 1) {
			snprintf(err, errlen, "bad IPv6 address");
			return -1;
		}
		memcpy(out->host, spec + 1, (size_t)(close - spec - 1));
	} else {
		colon = strrchr(spec, ':');
		if (colon == NULL || colon == spec || memchr(spec, ':', (size_t)(colon - spec))) {
			snprintf(err, errlen, "expected unix:/path or host:port");
			return -1;
		}
		if ((size_t)(colon - spec) >= sizeof(out->host)) {
			snprintf(err, errlen, "host name too long");
			return -1;
		}
		memcpy(out->host, spec, (size_t)(colon - spec));
	}
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || port < 1 || port > 65535) {
		snprintf(err, errlen, "the port must be 1..65535");
		return -1;
	}
	out->kind = LISTEN_TCP;
	snprintf(out->port, sizeof(out->port), "%ld", port);
	return 0;
}

/* A path that is there and is not a socket is never replaced by one. */
static bool
not_a_socket(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(path, &st) != 0 || S_ISSOCK(st.st_mode))
		return false;
	snprintf(err, errlen, "unix:%s: exists and is not a socket", path);
	return true;
}

static int
open_unix(const char *path, char *owned, size_t ownedlen, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;
	mode_t old;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		goto fail;
	strcpy(sa.sun_path, path);
	/* A stale socket from a previous run would make bind fail; a live
	 * server behind it answers connect, and then we refuse to steal it. */
	{
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			close(fd);
			snprintf(err, errlen, "%s: another server is listening there", path);
			return -1;
		}
		if (probe >= 0)
			close(probe);
	}
	if (not_a_socket(path, err, errlen)) {
		close(fd);
		return -1;
	}
	unlink(path);
	/* Created 0660: the proxy reaches it through the group. */
	old = umask(0117);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		umask(old);
		goto fail;
	}
	umask(old);
	if (chmod(path, 0660) != 0 || listen(fd, LISTEN_BACKLOG) != 0)
		goto fail;
	snprintf(owned, ownedlen, "%s", path);
	return fd;
fail:
	snprintf(err, errlen, "unix:%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int
open_tcp(const struct listen_addr *la, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL;
	int fd = -1, one = 1, rc;

	if ((rc = getaddrinfo(la->host, la->port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s:%s: %s", la->host, la->port, gai_strerror(rc));
		return -1;
	}
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, LISTEN_BACKLOG) == 0)
			break;
		snprintf(err, errlen, "%s:%s: %s", la->host, la->port, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static bool
is_listening_socket(int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v != 0;
}

/* systemd socket activation (libsystemd reads LISTEN_PID and LISTEN_FDS,
 * unsets them and marks the descriptors close-on-exec): the first, when it
 * is a listening stream socket. */
static int
inherited_systemd(void)
{
	if (sd_listen_fds(1) < 1)
		return -1;
	return sd_is_socket(SD_LISTEN_FDS_START, AF_UNSPEC, SOCK_STREAM, 1) > 0 ?
	    SD_LISTEN_FDS_START : -1;
}

/*
 * Workers accept in blocking mode, but not forever: an accept that waits
 * ACCEPT_IDLE_MS returns EAGAIN, and the idle worker sends the request
 * records it holds (worker.c). A graceful stop switches the shared socket to
 * non-blocking (master.c); an inherited socket may still be in that mode
 * from the previous server that held it (systemd keeps it across restarts),
 * so it is reset here. Returns fd, or -1 with a message.
 */
#define ACCEPT_IDLE_MS	250

static int
prepare_accept(int fd, char *err, size_t errlen)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = ACCEPT_IDLE_MS * 1000 };
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0 && (fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) {
		snprintf(err, errlen, "SO_RCVTIMEO on the listen socket: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
listen_open(const char *spec, const char *runtime_dir,
    char *owned_path, size_t pathlen, char *err, size_t errlen)
{
	struct listen_addr la;
	char def[160];
	int fd;

	owned_path[0] = '\0';
	if (spec == NULL) {
		fd = inherited_systemd();
		if (fd < 0 && is_listening_socket(STDIN_FILENO))
			fd = STDIN_FILENO;	/* spawn-fcgi style */
		if (fd >= 0)
			return prepare_accept(fd, err, errlen);
		snprintf(def, sizeof(def), "unix:%s/corad.sock", runtime_dir);
		spec = def;
	}
	if (listen_parse(spec, &la, err, errlen) != 0)
		return -1;
	fd = la.kind == LISTEN_UNIX ? open_unix(la.path, owned_path, pathlen, err, errlen) :
	    open_tcp(&la, err, errlen);
	return fd < 0 ? -1 : prepare_accept(fd, err, errlen);
}

/* Whether path is a directory; why not in why. */
static bool
is_dir(const char *path, const char **why)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		*why = strerror(errno);
		return false;
	}
	*why = "not a directory";
	return S_ISDIR(st.st_mode);
}

/* The directory part of path: "." without a slash, "/" for the root's. */
static void
dir_of(const char *path, char *out, size_t size)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(out, size, ".");
	else
		snprintf(out, size, "%.*s", slash == path ? 1 : (int)(slash - path), path);
}

/* A directory that exists, or whose parent does (so that it can be made).
 * Who may write them is not judged: corad check runs as anyone, and
 * systemd's RuntimeDirectory= makes the runtime directory for the service's
 * user only when the service starts. */
static int
check_dir(const char *dir, const char *what, char *err, size_t errlen)
{
	char parent[PATH_MAX];
	const char *why;

	if (access(dir, F_OK) == 0) {
		if (!is_dir(dir, &why)) {
			snprintf(err, errlen, "%s %s: %s", what, dir, why);
			return -1;
		}
		return 0;
	}
	dir_of(dir, parent, sizeof(parent));
	if (!is_dir(parent, &why)) {
		snprintf(err, errlen, "%s %s cannot be made: %s: %s", what, dir, parent, why);
		return -1;
	}
	return 0;
}

int
listen_check(const char *spec, const char *runtime_dir, bool *tcp, char *err, size_t errlen)
{
	struct listen_addr la;
	char def[160], dir[PATH_MAX];
	const char *why;

	*tcp = false;
	if (check_dir(runtime_dir, "CORA_RUNTIME_DIR", err, errlen) != 0)
		return -1;
	if (spec == NULL) {
		if (getenv("LISTEN_FDS") != NULL || is_listening_socket(STDIN_FILENO))
			return 0;	/* inherited: serve's to take */
		snprintf(def, sizeof(def), "unix:%s/corad.sock", runtime_dir);
		spec = def;
	}
	if (listen_parse(spec, &la, err, errlen) != 0)
		return -1;
	if (la.kind == LISTEN_UNIX) {
		if (not_a_socket(la.path, err, errlen))
			return -1;
		dir_of(la.path, dir, sizeof(dir));
		/* The runtime dir is made by serve: a socket in it is checked above. */
		if (strcmp(dir, runtime_dir) != 0 && !is_dir(dir, &why)) {
			snprintf(err, errlen, "unix:%s: %s: %s", la.path, dir, why);
			return -1;
		}
		return 0;
	}
	*tcp = true;
	{
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
		struct addrinfo *res = NULL;
		int rc = getaddrinfo(la.host, la.port, &hints, &res);

		if (rc != 0) {
			snprintf(err, errlen, "%s:%s: %s", la.host, la.port, gai_strerror(rc));
			return -1;
		}
		freeaddrinfo(res);
	}
	return 0;
}

int
listen_allow_parse(const char *spec, struct listen_allow *out, char *err, size_t errlen)
{
	const char *p = spec;

	memset(out, 0, sizeof(*out));
	if (spec == NULL)
		return 0;
	while (*p != '\0') {
		char one[INET6_ADDRSTRLEN + 1];
		size_t n;

		p += strspn(p, " \t,");
		if (*p == '\0')
			break;
		n = strcspn(p, " \t,");
		if (n >= sizeof(one)) {
			snprintf(err, errlen, "an entry is too long for an IP address");
			return -1;
		}
		if (out->n == LISTEN_ALLOW_MAX) {
			snprintf(err, errlen, "more than %d addresses", LISTEN_ALLOW_MAX);
			return -1;
		}
		memcpy(one, p, n);
		one[n] = '\0';
		if (inet_pton(AF_INET, one, out->a[out->n].addr) == 1)
			out->a[out->n].family = AF_INET;
		else if (inet_pton(AF_INET6, one, out->a[out->n].addr) == 1)
			out->a[out->n].family = AF_INET6;
		else {
			snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 address", one);
			return -1;
		}
		out->n++;
		p += n;
	}
	return 0;
}

bool
listen_peer_allowed(const struct listen_allow *allow, const struct sockaddr *sa, socklen_t len)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const uint8_t *addr;
	int family;

	if (allow->n == 0 || sa->sa_family == AF_UNIX)
		return true;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		family = AF_INET;
		addr = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		addr = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
		family = AF_INET6;
		if (memcmp(addr, v4mapped, sizeof(v4mapped)) == 0) {
			family = AF_INET;
			addr += sizeof(v4mapped);
		}
	} else
		return false;
	for (size_t i = 0; i < allow->n; i++)
		if (allow->a[i].family == family &&
		    memcmp(allow->a[i].addr, addr, family == AF_INET ? 4 : 16) == 0)
			return true;
	return false;
}

bool
listen_is_tcp(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	return getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
}
