/* SPDX-License-Identifier: MIT */
#include "command.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* A child starts with no signal held and default actions, whatever
 * window (tools/lib/signals.h) its parent is in. */
static void spawnattr_init(posix_spawnattr_t *attr)
{
	sigset_t mask, def;

	posix_spawnattr_init(attr);
	sigemptyset(&mask);
	posix_spawnattr_setsigmask(attr, &mask);
	sigemptyset(&def);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGHUP);
	sigaddset(&def, SIGQUIT);
	posix_spawnattr_setsigdefault(attr, &def);
}

int command_run(char *const argv[], unsigned flags)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	pid_t pid;
	int status, r;

	posix_spawn_file_actions_init(&fa);
	/* Only 0-2: a daemon (fusefat) that kept some other inherited pipe
	 * open would keep whoever reads that pipe waiting for ever. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (flags & (COMMAND_QUIET | COMMAND_SILENT))
		posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	if (flags & COMMAND_SILENT) {
		posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
		posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	}
	else if (flags & COMMAND_STDOUT_TO_STDERR)
		posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
	spawnattr_init(&attr);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
					   (flags & COMMAND_OWN_GROUP ? POSIX_SPAWN_SETPGROUP : 0));
	r = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return -r;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

bool command_exists(const char *name)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (!path || !*path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, len ? path : ".", name);
		if (access(buf, X_OK) == 0)
			return true;
		path += len + (path[len] == ':');
	}
	return false;
}

int command_capture(char *const argv[], unsigned flags, char **out, size_t max)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int pipefd[2], status, r;
	size_t len = 0;
	bool big = false;
	char *buf;
	pid_t pid;

	*out = NULL;
	buf = malloc(max + 1);
	if (!buf)
		return -ENOMEM;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		r = -errno;
		free(buf);
		return r;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (flags & COMMAND_SILENT) {
		posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
		posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	}
	spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	r = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		free(buf);
		return -r;
	}
	for (;;) {
		char sink[4096];
		ssize_t n = big ? read(pipefd[0], sink, sizeof(sink))
				: read(pipefd[0], buf + len, max + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (!big) {
			len += (size_t)n;
			big = len > max; /* read on to the end, so that it is not stopped by SIGPIPE */
		}
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			free(buf);
			return -errno;
		}
	if (big) {
		free(buf);
		return -EFBIG;
	}
	buf[len] = 0;
	*out = buf;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
