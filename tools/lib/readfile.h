/* SPDX-License-Identifier: MIT */
/* Small text files read whole into a buffer of the caller's. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Reads fd from where it stands to its end into buf, size bytes with the
 * terminating NUL. Returns the length; -EFBIG when the text takes size - 1
 * bytes or more (buf then holds its first size - 1 bytes, terminated). */
ssize_t fd_read_text(int fd, char *buf, size_t size);

/* The same for the file name, relative to dirfd (or AT_FDCWD). */
ssize_t file_read_text(int dirfd, const char *name, char *buf, size_t size);
