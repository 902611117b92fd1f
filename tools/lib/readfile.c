/* SPDX-License-Identifier: MIT */
#include "readfile.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "common.h"

ssize_t fd_read_text(int fd, char *buf, size_t size)
{
	size_t len = 0;

	for (;;) {
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == size - 1) {
			buf[len] = 0;
			return -EFBIG;
		}
	}
	buf[len] = 0;
	return (ssize_t)len;
}

ssize_t file_read_text(int dirfd, const char *name, char *buf, size_t size)
{
	_cleanup_(closep) int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return fd_read_text(fd, buf, size);
}
