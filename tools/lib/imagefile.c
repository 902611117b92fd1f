/* SPDX-License-Identifier: MIT */
#include "imagefile.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "common.h"
#include "log.h"

int image_open_exclusive(const char *path, const char *verb, const char *not_regular,
			 struct stat *st)
{
	int fd = open(path, O_RDWR | O_CLOEXEC), r;

	if (fd < 0)
		return log_errno(errno, "cannot open '%s'", path);
	if (fstat(fd, st) < 0) {
		r = log_errno(errno, "cannot stat '%s'", path);
		goto fail;
	}
	if (!S_ISREG(st->st_mode)) {
		log_error("cannot %s '%s': not a regular file%s", verb, path, not_regular);
		r = -EINVAL;
		goto fail;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		log_error("cannot %s '%s': another process holds a lock on it", verb, path);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return r;
}
