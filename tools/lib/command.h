/* SPDX-License-Identifier: MIT */
/* Running helper programs (e2fsck, resize2fs, fusefat, ...). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum {
	COMMAND_QUIET = 1 << 0, /* their stdout to /dev/null (stderr stays) */
	COMMAND_SILENT = 1 << 1, /* stdin, stdout and stderr on /dev/null */
	COMMAND_STDOUT_TO_STDERR = 1 << 2, /* keep our stdout for results */
	/* In a process group of its own: a daemon that outlives us (fusefat)
	 * must not get the Ctrl-C of the terminal's group halfway through
	 * setting up what we record. */
	COMMAND_OWN_GROUP = 1 << 3,
};

/* Runs argv[0] (looked up in PATH) and waits. It starts with no signal
 * held and INT, TERM, HUP and QUIT at their defaults. Returns its exit status
 * (0-255), 128+N if killed by signal N, or -errno if it could not be
 * started (-ENOENT: not installed). */
int command_run(char *const argv[], unsigned flags);

/* True if name is an executable in PATH (the default path without PATH),
 * as posix_spawnp would find it: to refuse before anything is written. */
bool command_exists(const char *name);
/* Runs argv[0] as command_run() does (flags: COMMAND_SILENT puts stdin and
 * stderr on /dev/null) and collects its standard output, up to max bytes,
 * NUL-terminated, into *out (free it). Returns its status as command_run()
 * does; -EFBIG if it wrote more than max bytes. */
int command_capture(char *const argv[], unsigned flags, char **out, size_t max);
