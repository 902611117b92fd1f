/* SPDX-License-Identifier: MIT */
/*
 * A command run in a child and watched to its end: INT, TERM and HUP that
 * we get are passed on to it, it gets SIGTERM should we die, and with a log
 * its output is passed through as it comes and appended to the log line by
 * line, each stamped with the time its first byte came. It may be given a
 * $NOTIFY_SOCKET (sd_notify(3)) on which to say READY=1.
 *
 *   supervise_notify_open()   optional; then put s.notify_name in envp
 *   supervise_log_open()      always, with a path or NULL
 *   supervise_note()          lines of our own in the log
 *   supervise_run()           the child's status, as a shell reports it
 *   supervise_log_close()     with the status the tool exits with
 */
#pragma once

#include <stdbool.h>

struct supervise_output;

struct supervise {
	/* Set by the caller. */
	char **argv; /* argv[0] is looked up along PATH */
	char **envp;
	const char *name;    /* for messages: "cannot run NAME" */
	const char *package; /* the Debian package that has it */
	bool own_group;      /* the child in a process group of its own */
	bool stdin_null;     /* a terminal on stdin replaced by /dev/null */
	/* Runs in the child before exec: 0, or -1 with errno set. */
	int (*setup)(void *userdata);
	void *userdata;

	/* Filled in. */
	char notify_name[128]; /* $NOTIFY_SOCKET for the child */
	bool ready;            /* it said READY=1 there */
	bool signaled;         /* it ended by a signal, or we passed one on */

	/* Private. */
	int notify;
	int forwarded;
	struct supervise_output *out;
};

#define SUPERVISE_INIT { .notify = -1 }

/* For _cleanup_. */
void supervise_done(struct supervise *s);

/* A datagram socket for $NOTIFY_SOCKET; only messages from the child count.
 * 0 or -errno (said). */
int supervise_notify_open(struct supervise *s);

/* With a path, opens the log (appending) and the pipes the child's output
 * goes through; without one the child writes to our stdout and stderr
 * itself. 0 or -errno (said). */
int supervise_log_open(struct supervise *s, const char *path);

/* A line of our own in the log, "PROGRAM: ...", kept on one line. */
void supervise_note(struct supervise *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Starts the child and waits for its end, passing signals and output on.
 * Our INT, TERM, HUP and CHLD stay blocked afterwards: call it last.
 * Returns its status as a shell reports it (128 + N for signal N, also for
 * one we passed on), or -errno if it could not be started (said). */
int supervise_run(struct supervise *s);

/* Writes "exit status N" and closes the log. 0, or -errno if anything
 * could not be written to the log (said): a build whose log is lost has
 * not fully succeeded. */
int supervise_log_close(struct supervise *s, int status);
