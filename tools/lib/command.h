/* SPDX-License-Identifier: MIT */
/* Running helper programs (e2fsck, resize2fs, fusefat, ...). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum {
	COMMAND_QUIET = 1 << 0, /* their stdout to /dev/null (stderr stays) */
	COMMAND_SILENT = 1 << 1, /* stdin, stdout and stderr on /dev/null */
	COMMAND_STDOUT_TO_STDERR = 1 << 2, /* keep our stdout for results */
};

/* Runs argv[0] (looked up in PATH) and waits. Returns its exit status
 * (0-255), 128+N if killed by signal N, or -errno if it could not be
 * started (-ENOENT: not installed). */
int command_run(char *const argv[], unsigned flags);
/* Runs argv[0] as command_run() does (flags: COMMAND_SILENT puts stdin and
 * stderr on /dev/null) and collects its standard output, up to max bytes,
 * NUL-terminated, into *out (free it). Returns its status as command_run()
 * does; -EFBIG if it wrote more than max bytes. */
int command_capture(char *const argv[], unsigned flags, char **out, size_t max);
