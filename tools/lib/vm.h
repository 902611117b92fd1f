/* SPDX-License-Identifier: MIT */
/*
 * Running a virtual machine (QEMU) under supervision: its serial console
 * comes back line by line, a deadline ends it, and it never outlives us.
 *
 * QEMU is started with PR_SET_PDEATHSIG, so that it dies with this process
 * even when we are killed with SIGKILL; SIGINT, SIGTERM and SIGHUP sent to
 * us end it (SIGTERM, then SIGKILL after a grace period) before we return.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* What on_line returns to end the machine early. */
#define VM_STOP 1

struct vm {
	char *const *argv;   /* the emulator and its arguments */
	bool interactive;    /* the console is our terminal: nothing is captured */
	double timeout;      /* seconds from the start; 0: none */
	int log_fd;          /* a copy of the console, line by line; -1: none */
	bool echo;           /* the console on stderr too */
	/* Called for every console line (no line end, \r removed), t seconds
	 * after the start. */
	int (*on_line)(const char *line, double t, void *userdata);
	void *userdata;

	/* results */
	int status;        /* the emulator's exit status, 128+N if killed by signal N */
	bool timed_out;    /* the timeout ended it */
	bool stopped;      /* on_line ended it */
	int interrupted;   /* the signal that ended us, or 0 */
	double elapsed;    /* seconds */
	char last_error[512]; /* the emulator's last line on stderr */
};

/* Starts vm->argv[0] (looked up in PATH) and supervises it until it ends.
 * Returns 0 (see the results), or -errno if it could not be started
 * (-ENOENT: not installed). */
int vm_run(struct vm *vm);

/* QEMU's "-drive file=FILE,OPTS" for a FILE of any name: QEMU splits its
 * options at commas, and takes ",," for a comma in a value. -ENAMETOOLONG
 * if it does not fit in size. */
int vm_drive_arg(char *out, size_t size, const char *file, const char *opts);
