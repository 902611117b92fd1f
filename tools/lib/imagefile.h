/* SPDX-License-Identifier: MIT */
/* An image file opened to be changed in place, by one process at a time. */
#pragma once

#include <sys/stat.h>

/* Opens path read-write; it must be a regular file, and no other process
 * may hold a lock on it (this one then holds it until the fd is closed).
 * verb ("grow") names the change in the messages, and not_regular follows
 * "not a regular file" in one ("" for nothing). Returns the fd with *st
 * filled in, or -errno after one line. */
int image_open_exclusive(const char *path, const char *verb, const char *not_regular,
			 struct stat *st);
