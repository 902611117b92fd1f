/* SPDX-License-Identifier: MIT */
#include "gpgv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "command.h"
#include "common.h"

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A private temporary file holding buf; its name in path. */
static int tmp_hold(char path[static 64], const void *buf, size_t len)
{
	int fd, r;

	snprintf(path, 64, "/tmp/img-gpgv.XXXXXX");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = write_all(fd, buf, len);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		unlink(path);
	return r;
}

int gpgv_verify(const char *keyring, const void *data, size_t len, const void *sig, size_t sig_len)
{
	_cleanup_(freep) char *ring = realpath(keyring, NULL);
	char data_path[64], sig_path[64];
	int r;

	/* gpgv takes a name without a slash as one in ~/.gnupg. */
	if (!ring)
		return -errno;
	r = tmp_hold(data_path, data, len);
	if (r < 0)
		return r;
	r = tmp_hold(sig_path, sig, sig_len);
	if (r < 0) {
		unlink(data_path);
		return r;
	}
	char *argv[] = { "gpgv", "--quiet", "--keyring", ring, sig_path, data_path, NULL };
	r = command_run(argv, COMMAND_SILENT);
	unlink(data_path);
	unlink(sig_path);
	if (r < 0)
		return r;
	return r == 0 ? 0 : -EBADMSG;
}
