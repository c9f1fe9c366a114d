/*
 * The POSIX side of core/core.h's platform interface: signals for stop
 * and reload, systemd's notification socket, file modes for secrets.
 */
#include "core/core.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int
platform_on_stop(struct loop *l, loop_signal_cb cb, void *arg)
{
	/* A dead hub connection must be an error return, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	if (loop_signal(l, SIGTERM, cb, arg) == -1)
		return -1;
	return loop_signal(l, SIGINT, cb, arg);
}

int
platform_on_reload(struct loop *l, loop_signal_cb cb, void *arg)
{
	return loop_signal(l, SIGHUP, cb, arg);
}

void
platform_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    (n = strlen(path)) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, n);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';   /* abstract namespace */
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return;
	(void)sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
	close(fd);
}

int
platform_secret_exposed(int fd, const char *path, char *what, size_t wlen,
    char *fix, size_t flen)
{
	struct stat st;

	if (fstat(fd, &st) == -1)
		return -1;
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) == 0)
		return 0;
	snprintf(what, wlen, "%s by group/others (mode %04o)",
	    st.st_mode & (S_IRGRP | S_IROTH) ? "readable" : "accessible",
	    (unsigned)(st.st_mode & 07777));
	snprintf(fix, flen, "chmod 600 %s", path);
	return 1;
}
