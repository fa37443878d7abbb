/*
 * minimal: the smallest useful prefork libfcgi responder, the baseline that
 * bench/run measures corad against.
 *
 *	usage: minimal SOCKET_PATH WORKERS
 *
 * It opens a FastCGI listen socket on SOCKET_PATH, forks WORKERS processes
 * that each run a blocking FCGX_Accept_r loop (the shape of a corad worker,
 * without routing, logging or metrics), and answers every request with the
 * body of corad's GET /health. The parent only waits; SIGTERM or SIGINT to it
 * stops the workers. Build: cc -O2 bench/minimal.c -lfcgi
 */
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>

#define MAX_WORKERS	1024

static const char reply[] =
    "Status: 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "\r\n"
    "{\"status\":\"ok\",\"version\":\"0.1.0\"}";

static volatile sig_atomic_t stop_requested;

static void	on_stop(int);
static void	on_child(int);
static int	serve(int);

static void
on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Only there so that sigsuspend() returns when a worker dies. */
static void
on_child(int sig)
{
	(void)sig;
}

/* One worker: one request at a time until the socket fails or we are killed. */
static int
serve(int listen_fd)
{
	FCGX_Request req;

	if (FCGX_InitRequest(&req, listen_fd, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&req) >= 0) {
		FCGX_PutStr(reply, (int)sizeof(reply) - 1, req.out);
		FCGX_Finish_r(&req);
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	static pid_t pids[MAX_WORKERS];
	struct sigaction sa;
	sigset_t block, old;
	char *end;
	long n, i;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: %s SOCKET_PATH WORKERS\n", argv[0]);
		return 2;
	}
	errno = 0;
	n = strtol(argv[2], &end, 10);
	if (errno != 0 || *end != '\0' || n < 1 || n > MAX_WORKERS) {
		fprintf(stderr, "minimal: WORKERS must be 1..%d\n", MAX_WORKERS);
		return 2;
	}
	if (strchr(argv[1], ':') != NULL) {
		/* libfcgi would read it as host:port. */
		fprintf(stderr, "minimal: socket path must not contain ':'\n");
		return 2;
	}

	if (FCGX_Init() != 0) {
		fprintf(stderr, "minimal: FCGX_Init failed\n");
		return 1;
	}
	(void)unlink(argv[1]);
	fd = FCGX_OpenSocket(argv[1], 1024);
	if (fd < 0) {
		fprintf(stderr, "minimal: cannot listen on %s\n", argv[1]);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);

	/* Block the stop signals around fork so no child runs the parent's handler. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &old);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_child;
	sigaction(SIGCHLD, &sa, NULL);

	for (i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] == -1) {
			perror("minimal: fork");
			n = i;
			stop_requested = 1;
			break;
		}
		if (pids[i] == 0) {
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			signal(SIGCHLD, SIG_DFL);
			sigprocmask(SIG_SETMASK, &old, NULL);
			/* Do not outlive the parent if it is killed outright. */
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			if (getppid() == 1)
				_exit(0);
			_exit(serve(fd));
		}
	}

	/* Wait for a stop signal or for any worker to die, then stop them all. */
	while (!stop_requested) {
		int status;

		sigsuspend(&old);
		if (waitpid(-1, &status, WNOHANG) > 0) {
			fprintf(stderr, "minimal: a worker exited; stopping\n");
			stop_requested = 1;
		}
	}
	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	(void)unlink(argv[1]);
	return 0;
}
