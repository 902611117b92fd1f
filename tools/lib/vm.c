/* SPDX-License-Identifier: MIT */
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "format.h"
#include "log.h"

/* Between SIGTERM and SIGKILL: QEMU closes its disks on SIGTERM. */
#define VM_GRACE 3.0
#define LINE_MAX_LEN 65536

struct line_buf {
	char buf[LINE_MAX_LEN];
	size_t len;
};

static void write_all(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, s, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

static int console_line(struct vm *vm, struct line_buf *lb, double t)
{
	int r = 0;

	/* A serial console ends lines with \r\n, and redraws with \r. */
	while (lb->len > 0 && lb->buf[lb->len - 1] == '\r')
		lb->len--;
	lb->buf[lb->len] = 0;
	if (vm->log_fd >= 0) {
		write_all(vm->log_fd, lb->buf, lb->len);
		write_all(vm->log_fd, "\n", 1);
	}
	if (vm->echo) {
		write_all(STDERR_FILENO, lb->buf, lb->len);
		write_all(STDERR_FILENO, "\n", 1);
	}
	if (vm->on_line)
		r = vm->on_line(lb->buf, t, vm->userdata);
	lb->len = 0;
	return r;
}

/* Reads what there is; splits it into lines. Returns 0 at end of file. */
static int console_read(struct vm *vm, int fd, struct line_buf *lb, double t, bool *stop)
{
	char buf[16384];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : 0;
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '\n' || lb->len == LINE_MAX_LEN - 1) {
			if (console_line(vm, lb, t) == VM_STOP)
				*stop = true;
			if (buf[i] == '\n')
				continue;
		}
		lb->buf[lb->len++] = buf[i];
	}
	return n > 0;
}

static void stderr_read(struct vm *vm, int fd, struct line_buf *lb, bool *open_)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			*open_ = false;
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '\n' || lb->len == sizeof(vm->last_error) - 1) {
			lb->buf[lb->len] = 0;
			if (lb->len > 0) {
				log_debug("%s", lb->buf);
				snprintf(vm->last_error, sizeof(vm->last_error), "%.*s", (int)sizeof(vm->last_error) - 1, lb->buf);
			}
			lb->len = 0;
			if (buf[i] == '\n')
				continue;
		}
		lb->buf[lb->len++] = buf[i];
	}
}

_Noreturn static void child_exec(const struct vm *vm, int out, int err, int errpipe)
{
	sigset_t none;
	int e;

	/* Dies with us, even of SIGKILL. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (!vm->interactive) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
		    dup2(err, STDERR_FILENO) < 0)
			goto fail;
	}
	/* Whatever our caller blocks, the emulator gets its signals. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvp(vm->argv[0], vm->argv);
fail:
	e = errno;
	write_all(errpipe, (const char *)&e, sizeof(e));
	_exit(127);
}

static void child_signal(pid_t pid, int sig)
{
	if (pid > 0)
		kill(pid, sig);
}

int vm_run(struct vm *vm)
{
	_cleanup_(closep) int sfd = -1, out_r = -1, err_r = -1;
	int out_w = -1, err_w = -1, execfd[2], status = 0;
	static struct line_buf con, errl;
	sigset_t mask, old;
	double start = now_seconds(), kill_at = 0;
	bool out_open, err_open, reaped = false, stop = false;
	pid_t pid;
	int e;

	vm->status = -1;
	vm->timed_out = vm->stopped = false;
	vm->interrupted = 0;
	vm->last_error[0] = 0;
	con.len = errl.len = 0;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, &old) < 0)
		return -errno;
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return -errno;
	if (!vm->interactive) {
		int p[2], q[2];
		if (pipe2(p, O_CLOEXEC) < 0)
			return -errno;
		if (pipe2(q, O_CLOEXEC) < 0) {
			close(p[0]);
			close(p[1]);
			return -errno;
		}
		out_r = p[0], out_w = p[1], err_r = q[0], err_w = q[1];
	}
	/* A pipe that closes on exec tells whether execvp worked. */
	if (pipe2(execfd, O_CLOEXEC) < 0)
		return -errno;

	pid = fork();
	if (pid < 0) {
		int r = -errno;
		close(execfd[0]);
		close(execfd[1]);
		return r;
	}
	if (pid == 0) {
		close(execfd[0]);
		child_exec(vm, out_w, err_w, execfd[1]);
	}
	close(execfd[1]);
	if (out_w >= 0)
		close(out_w);
	if (err_w >= 0)
		close(err_w);
	/* Nothing comes through the exec pipe unless exec failed; EOF then
	 * means it worked. */
	if (read(execfd[0], &e, sizeof(e)) == (ssize_t)sizeof(e)) {
		close(execfd[0]);
		waitpid(pid, NULL, 0);
		sigprocmask(SIG_SETMASK, &old, NULL);
		return -e;
	}
	close(execfd[0]);

	out_open = out_r >= 0;
	err_open = err_r >= 0;
	if (out_open)
		fcntl(out_r, F_SETFL, O_NONBLOCK);
	if (err_open)
		fcntl(err_r, F_SETFL, O_NONBLOCK);

	while (!reaped || out_open || err_open) {
		struct pollfd pfd[3] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = out_open ? out_r : -1, .events = POLLIN },
			{ .fd = err_open ? err_r : -1, .events = POLLIN },
		};
		double now = now_seconds(), wake = -1;
		int ms;

		if (reaped) {
			/* It is gone: read what its pipes still hold, then stop
			 * (a grandchild could hold them open). */
			wake = 0.2;
		}
		if (!reaped && vm->timeout > 0 && !kill_at)
			wake = start + vm->timeout - now;
		if (!reaped && kill_at)
			wake = kill_at - now;
		if (wake >= 0 && wake < 0.001)
			wake = 0.001;
		ms = wake < 0 ? -1 : (int)(wake * 1000) + 1;
		int n = poll(pfd, 3, ms);
		if (n < 0 && errno != EINTR)
			break;
		now = now_seconds();
		if (n == 0 && reaped)
			break;
		if (pfd[1].revents) {
			if (console_read(vm, out_r, &con, now - start, &stop) == 0)
				out_open = false;
		}
		if (pfd[2].revents)
			stderr_read(vm, err_r, &errl, &err_open);
		if (pfd[0].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD)
					continue;
				if (!vm->interrupted)
					vm->interrupted = (int)si.ssi_signo;
			}
		}
		if (!reaped && waitpid(pid, &status, WNOHANG) == pid) {
			reaped = true;
			continue;
		}
		if (reaped)
			continue;
		if (!kill_at && (stop || vm->interrupted ||
				 (vm->timeout > 0 && now >= start + vm->timeout))) {
			if (stop)
				vm->stopped = true;
			else if (!vm->interrupted)
				vm->timed_out = true;
			child_signal(pid, SIGTERM);
			kill_at = now + VM_GRACE;
		} else if (kill_at && now >= kill_at) {
			child_signal(pid, SIGKILL);
			kill_at = now + 3600; /* wait for it now */
		}
	}
	if (!reaped) {
		child_signal(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (con.len > 0)
		console_line(vm, &con, now_seconds() - start);
	sigprocmask(SIG_SETMASK, &old, NULL);
	vm->elapsed = now_seconds() - start;
	vm->status = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
	return 0;
}

int vm_drive_arg(char *out, size_t size, const char *file, const char *opts)
{
	size_t n = 0;

	for (const char *p = "file="; *p && n < size; p++)
		out[n++] = *p;
	for (const char *p = file; *p && n + 2 < size; p++) {
		if (*p == ',')
			out[n++] = ',';
		out[n++] = *p;
	}
	if (n + 1 + strlen(opts) + 1 > size)
		return -ENAMETOOLONG;
	snprintf(out + n, size - n, ",%s", opts);
	return 0;
}
