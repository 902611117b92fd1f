/* SPDX-License-Identifier: MIT */
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "log.h"

/* A longer line without a newline goes to the log in pieces. */
#define LOG_LINE_MAX 65536

/* One of the child's output streams, with a log. */
struct stream {
	int in;  /* our end of its pipe; -1 when closed or not used */
	int out; /* where it goes on (our stdout or stderr); -1 once that is gone */
	struct timespec start; /* when the line in line began */
	size_t len;
	char line[LOG_LINE_MAX];
};

/* The child's output with a log: the pipes, the log, and the ends of the
 * pipes the child writes to (one for both, or one each). */
struct supervise_output {
	const char *path;
	int log;
	int log_err; /* the first error writing the log */
	int child[2];
	struct stream st[2];
};

/* Where the child says why it could not start the command. */
struct child_error {
	int step; /* 0: before exec (our own set-up), 1: exec */
	int err;
};

static void output_close_child(struct supervise_output *o)
{
	closep(&o->child[0]);
	if (o->child[1] != o->child[0])
		closep(&o->child[1]);
	o->child[0] = o->child[1] = -1;
}

void supervise_done(struct supervise *s)
{
	closep(&s->notify);
	s->notify = -1;
	if (!s->out)
		return;
	output_close_child(s->out);
	for (int k = 0; k < 2; k++)
		closep(&s->out->st[k].in);
	closep(&s->out->log);
	free(s->out);
	s->out = NULL;
}

/* An address of the kernel's choosing, which also tells who sent each
 * message. */
int supervise_notify_open(struct supervise *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len = sizeof(sa_family_t);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;

	if (fd < 0)
		return log_errno(errno, "cannot make a socket for %s", s->name);
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, len) < 0 ||
	    (len = sizeof(sa), getsockname(fd, (struct sockaddr *)&sa, &len)) < 0) {
		int r = errno;
		close(fd);
		return log_errno(r, "cannot make a socket for %s", s->name);
	}
	/* An abstract address: a NUL, then the name. */
	snprintf(s->notify_name, sizeof(s->notify_name), "@%.*s",
		 (int)(len - offsetof(struct sockaddr_un, sun_path) - 1), sa.sun_path + 1);
	s->notify = fd;
	return 0;
}

/* Reads what is queued; true once the child (pid) has said READY=1. */
static bool notify_ready(int fd, pid_t pid, bool ready)
{
	for (;;) {
		char buf[4096];
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(struct ucred))];
		} ctrl;
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.buf,
				     .msg_controllen = sizeof(ctrl.buf) };
		struct cmsghdr *c;
		struct ucred uc;
		char *save = NULL;
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n < 0)
			return ready;
		buf[n] = 0;
		c = CMSG_FIRSTHDR(&mh);
		if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_CREDENTIALS)
			continue;
		memcpy(&uc, CMSG_DATA(c), sizeof(uc));
		/* The address may be reachable by others (a container's network). */
		if (uc.pid != pid)
			continue;
		for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
			if (strcmp(l, "READY=1") == 0)
				ready = true;
	}
}

/* "2026-11-25T10:00:00.123Z " */
static void timestamp(const struct timespec *ts, char buf[static 32])
{
	struct tm tm;
	size_t n;

	gmtime_r(&ts->tv_sec, &tm);
	n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, 32 - n, ".%03ldZ ", ts->tv_nsec / 1000000);
}

static void output_line(struct supervise_output *o, const struct timespec *ts, const char *s, size_t len)
{
	char t[32];
	struct iovec iov[] = {
		{ .iov_base = t, .iov_len = 0 },
		{ .iov_base = (char *)s, .iov_len = len },
		{ .iov_base = "\n", .iov_len = 1 },
	};

	if (o->log < 0 || o->log_err)
		return;
	timestamp(ts, t);
	iov[0].iov_len = strlen(t);
	/* One write per line, so that a log shared with others stays whole. */
	if (writev(o->log, iov, ARRAY_SIZE(iov)) < 0)
		o->log_err = errno;
}

void supervise_note(struct supervise *s, const char *fmt, ...)
{
	char buf[4096], line[2 * sizeof(buf)];
	struct timespec now;
	va_list ap;
	size_t n;

	if (!s->out || s->out->log < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	n = (size_t)snprintf(line, sizeof(line), "%s: ", log_program());
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	/* An escape takes two bytes: stop, cut, where the next one might not fit. */
	for (const char *p = buf; *p && n + 2 <= sizeof(line); p++) {
		if (*p == '\n' || *p == '\r')
			line[n++] = '\\';
		line[n++] = *p == '\n' ? 'n' : *p == '\r' ? 'r' : *p;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	output_line(s->out, &now, line, n);
}

int supervise_log_open(struct supervise *s, const char *path)
{
	struct supervise_output *o;
	struct stat out, err;
	bool same;

	/* Big (two lines of the log): not on the stack. */
	o = s->out = calloc(1, sizeof(*o));
	if (!o)
		return log_errno(ENOMEM, "cannot start %s", s->name);
	*o = (struct supervise_output){ .path = path,
					.log = -1,
					.child = { -1, -1 },
					.st = { { .in = -1, .out = STDOUT_FILENO }, { .in = -1, .out = STDERR_FILENO } } };
	if (!path)
		return 0;
	/* One pipe for both, when they go to the same place, keeps their
	 * order exactly. */
	same = fstat(STDOUT_FILENO, &out) == 0 && fstat(STDERR_FILENO, &err) == 0 && out.st_dev == err.st_dev &&
	       out.st_ino == err.st_ino;
	o->log = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0644);
	if (o->log < 0)
		return log_errno(errno, "cannot open '%s'", path);
	for (int k = 0; k < (same ? 1 : 2); k++) {
		int fds[2];
		if (pipe2(fds, O_CLOEXEC) < 0)
			return log_errno(errno, "cannot make a pipe");
		o->st[k].in = fds[0];
		o->child[k] = fds[1];
	}
	if (same)
		o->child[1] = o->child[0];
	return 0;
}

/* Logs what the child wrote, line by line; a line is stamped with the
 * time its first byte came. */
static void stream_log(struct supervise_output *o, struct stream *s, const char *buf, size_t n,
		       const struct timespec *now)
{
	for (size_t i = 0; i < n; i++) {
		if (s->len == 0)
			s->start = *now;
		if (buf[i] == '\n' || s->len == LOG_LINE_MAX) {
			output_line(o, &s->start, s->line, s->len);
			s->len = 0;
			s->start = *now;
			if (buf[i] == '\n')
				continue;
		}
		s->line[s->len++] = buf[i];
	}
}

/* Passes on what the child wrote as soon as it comes, and logs it. */
static void stream_pump(struct supervise_output *o, struct stream *s)
{
	char buf[65536];
	struct timespec now;
	ssize_t n = read(s->in, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* The end: a last line without a newline is a line too. */
		if (s->len > 0)
			output_line(o, &s->start, s->line, s->len);
		s->len = 0;
		closep(&s->in);
		s->in = -1;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	for (ssize_t done = 0; s->out >= 0 && done < n;) {
		ssize_t w = write(s->out, buf + done, (size_t)(n - done));
		if (w >= 0)
			done += w;
		else if (errno != EINTR)
			s->out = -1; /* our reader went away; keep the log, and the child, going */
	}
	stream_log(o, s, buf, (size_t)n, &now);
}

int supervise_log_close(struct supervise *s, int status)
{
	struct supervise_output *o = s->out;
	int r = 0;

	if (!o)
		return 0;
	output_close_child(o);
	for (int k = 0; k < 2; k++) {
		closep(&o->st[k].in);
		o->st[k].in = -1;
	}
	if (o->log < 0)
		return 0;
	supervise_note(s, "exit status %d", status);
	if (close(o->log) < 0 && !o->log_err)
		o->log_err = errno;
	o->log = -1;
	if (o->log_err)
		r = log_errno(o->log_err, "cannot write to '%s'", o->path);
	return r;
}

_Noreturn static void child_run(const struct supervise *s, const sigset_t *mask, int errfd, pid_t parent)
{
	const struct supervise_output *o = s->out;
	struct child_error ce = { 0, 0 };

	sigprocmask(SIG_SETMASK, mask, NULL);
	/* Should we be killed, the child hears of it (systemd-nspawn, say,
	 * then stops its container rather than leave it running unwatched). */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
		goto fail;
	/* Out of our process group, so that a SIGKILL of the whole group (make
	 * killed with its children) reaches only us: the death signal above
	 * then tells the child. Signals for the group are passed on by us
	 * instead. A shell stays in the terminal's group. */
	if (s->own_group && setpgid(0, 0) < 0)
		goto fail;
	if (s->setup && s->setup(s->userdata) < 0)
		goto fail;
	/* No interaction: a command that asks gets end-of-file, not a hang. */
	if (s->stdin_null && isatty(STDIN_FILENO)) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0 || dup2(fd, STDIN_FILENO) < 0)
			goto fail;
	}
	/* dup2() leaves the copies open across exec. */
	if ((o->child[0] >= 0 && dup2(o->child[0], STDOUT_FILENO) < 0) ||
	    (o->child[1] >= 0 && dup2(o->child[1], STDERR_FILENO) < 0))
		goto fail;
	ce.step = 1;
	execvpe(s->argv[0], s->argv, s->envp);
fail:
	ce.err = errno;
	(void)!write(errfd, &ce, sizeof(ce));
	_exit(EXIT_FAILED);
}

/* Starts the child, with SIGCHLD and the signals we pass on blocked here
 * (read from sigfd instead) and not there. */
static pid_t child_start(const struct supervise *s, int *sigfd)
{
	_cleanup_(closep) int errr = -1, errw = -1;
	int fds[2];
	struct child_error ce;
	sigset_t mask, old;
	pid_t pid, parent = getpid();

	if (pipe2(fds, O_CLOEXEC) < 0)
		return log_errno(errno, "cannot make a pipe");
	errr = fds[0];
	errw = fds[1];
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, &old);
	*sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (*sigfd < 0)
		return log_errno(errno, "cannot watch signals");

	pid = fork();
	if (pid < 0)
		return log_errno(errno, "cannot start %s", s->name);
	if (pid == 0)
		child_run(s, &old, errw, parent);
	closep(&errw);
	errw = -1;
	/* Until exec, or a report of what failed before it. */
	if (read(errr, &ce, sizeof(ce)) != sizeof(ce))
		return pid;
	waitpid(pid, NULL, 0);
	if (ce.step == 1 && ce.err == ENOENT)
		log_error("%s is not installed (Debian package: %s)", s->name, s->package);
	else
		log_errno(ce.err, ce.step == 1 ? "cannot run %s" : "cannot set up %s", s->name);
	return -ce.err;
}

int supervise_run(struct supervise *s)
{
	struct supervise_output *o = s->out;
	_cleanup_(closep) int sigfd = -1;
	bool exited = false;
	int status = 0;
	pid_t pid;

	if (!o)
		return log_errno(EINVAL, "cannot start %s", s->name);
	pid = child_start(s, &sigfd);
	if (pid < 0)
		return pid;
	/* Writing to a reader that went away is an error to handle, not death. */
	signal(SIGPIPE, SIG_IGN);
	output_close_child(o);

	while (!exited || o->st[0].in >= 0 || o->st[1].in >= 0) {
		struct pollfd pfd[] = {
			{ .fd = exited ? -1 : sigfd, .events = POLLIN },
			{ .fd = s->notify, .events = POLLIN },
			{ .fd = o->st[0].in, .events = POLLIN },
			{ .fd = o->st[1].in, .events = POLLIN },
		};
		struct signalfd_siginfo si;

		if (poll(pfd, ARRAY_SIZE(pfd), -1) < 0 && errno != EINTR) {
			int r = log_errno(errno, "cannot wait for %s", s->name);
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return r;
		}
		if (pfd[1].revents)
			s->ready = notify_ready(s->notify, pid, s->ready);
		/* stdout first: what both pipes hold now was most likely
		 * written there first. */
		for (int k = 0; k < 2; k++)
			if (pfd[k + 2].revents)
				stream_pump(o, &o->st[k]);
		while (pfd[0].revents && read(sigfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo != SIGCHLD) {
				kill(pid, (int)si.ssi_signo);
				s->forwarded = (int)si.ssi_signo;
			} else if (waitpid(pid, &status, WNOHANG) == pid)
				exited = true;
		}
	}
	s->ready = notify_ready(s->notify, pid, s->ready);

	s->signaled = WIFSIGNALED(status) || s->forwarded;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	if (s->forwarded) /* as a shell reports a command a signal stopped */
		return 128 + s->forwarded;
	return WEXITSTATUS(status);
}
