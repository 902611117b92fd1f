/* SPDX-License-Identifier: MIT */
#include "loop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "readfile.h"

#define LOOP_MAJOR 7
#define ATTACH_TRIES 64

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Reads one line of a sysfs attribute. */
static int sysfs_read(const char *path, char *buf, size_t size)
{
	ssize_t n = file_read_text(AT_FDCWD, path, buf, size);

	/* An attribute longer than buf is cut to it. */
	if (n < 0 && n != -EFBIG)
		return (int)n;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

int loop_devnode(const char *name, char path[static 64])
{
	char attr[128], dev[32];
	unsigned maj, min;
	struct stat st;

	snprintf(path, 64, "/dev/%s", name);
	/* A partition lives under its disk in sysfs, a disk at the top. */
	snprintf(attr, sizeof(attr), "/sys/class/block/%s/dev", name);
	if (sysfs_read(attr, dev, sizeof(dev)) < 0 || sscanf(dev, "%u:%u", &maj, &min) != 2)
		return -ENODEV;
	/* devtmpfs creates the node as the device appears and udev may
	 * recreate it; wait for it a little, then make it ourselves (a
	 * container's /dev is a plain tmpfs that nobody fills). */
	for (int i = 0; i < 50; i++) {
		if (stat(path, &st) == 0)
			return S_ISBLK(st.st_mode) && st.st_rdev == makedev(maj, min) ? 0 : -EEXIST;
		sleep_ms(i < 10 ? 2 : 20);
	}
	if (mknod(path, S_IFBLK | 0600, makedev(maj, min)) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int loop_open_nr(int nr, int flags)
{
	char path[64], name[32];
	int fd;

	snprintf(name, sizeof(name), "loop%d", nr);
	snprintf(path, sizeof(path), "/dev/%s", name);
	fd = open(path, flags | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && loop_devnode(name, path) == 0)
		fd = open(path, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

bool loop_backs(int fd, const struct stat *st, uint64_t offset)
{
	struct loop_info64 info;

	if (ioctl(fd, LOOP_GET_STATUS64, &info) < 0)
		return false;
	return info.lo_device == st->st_dev && info.lo_inode == st->st_ino && info.lo_offset == offset;
}

bool loop_nr_uses(int nr, const struct stat *st)
{
	_cleanup_(closep) int fd = loop_open_nr(nr, O_RDONLY);
	struct loop_info64 info;

	return fd >= 0 && ioctl(fd, LOOP_GET_STATUS64, &info) == 0 && info.lo_device == st->st_dev &&
	       info.lo_inode == st->st_ino;
}

static int loop_configure(int lfd, int ffd, const char *file, uint64_t offset, uint64_t size,
			  unsigned flags)
{
	struct loop_config cfg = {
		.fd = (unsigned)ffd,
		.info = {
			.lo_offset = offset,
			.lo_sizelimit = size,
			.lo_flags = (flags & LOOP_ATTACH_READ_ONLY ? LO_FLAGS_READ_ONLY : 0) |
				    (flags & LOOP_ATTACH_PARTSCAN ? LO_FLAGS_PARTSCAN : 0) |
				    (flags & LOOP_ATTACH_AUTOCLEAR ? LO_FLAGS_AUTOCLEAR : 0),
		},
	};

	snprintf((char *)cfg.info.lo_file_name, sizeof(cfg.info.lo_file_name), "%s", file);
	if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOTTY)
		return -errno;
	/* Kernels before 5.8: two steps, undone if the second fails. */
	if (ioctl(lfd, LOOP_SET_FD, ffd) < 0)
		return -errno;
	if (ioctl(lfd, LOOP_SET_STATUS64, &cfg.info) < 0) {
		int r = -errno;
		ioctl(lfd, LOOP_CLR_FD, 0);
		return r;
	}
	return 0;
}

int loop_attach(struct loop_device *l, const char *file, uint64_t offset, uint64_t size,
		unsigned flags)
{
	int mode = flags & LOOP_ATTACH_READ_ONLY ? O_RDONLY : O_RDWR;
	_cleanup_(closep) int ffd = open(file, mode | O_CLOEXEC);
	_cleanup_(closep) int ctl = -1;
	struct stat st;
	int r = -EBUSY;

	*l = (struct loop_device)LOOP_DEVICE_INIT;
	if (ffd < 0 || fstat(ffd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return -EINVAL;
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return -errno;

	for (int i = 0; i < ATTACH_TRIES; i++) {
		int nr = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (nr < 0)
			return -errno;
		int lfd = loop_open_nr(nr, O_RDWR);
		if (lfd < 0)
			return lfd;
		r = loop_configure(lfd, ffd, file, offset, size, flags);
		if (r == 0) {
			l->fd = lfd;
			l->nr = nr;
			snprintf(l->path, sizeof(l->path), "/dev/loop%d", nr);
			break;
		}
		close(lfd);
		/* Another process took this device between GET_FREE and
		 * CONFIGURE: ask for another one. */
		if (r != -EBUSY)
			return r;
		sleep_ms(1 + i % 8);
	}
	if (r < 0)
		return r;
	if (!loop_backs(l->fd, &st, offset)) {
		loop_cleanup(l);
		return -EIO;
	}
	return 0;
}

int loop_detach_nr(int nr)
{
	_cleanup_(closep) int fd = loop_open_nr(nr, O_RDONLY);

	if (fd < 0)
		return fd;
	if (ioctl(fd, LOOP_CLR_FD, 0) < 0)
		return errno == ENXIO ? -ENXIO : -errno;
	return 0;
}

int loop_detach(struct loop_device *l)
{
	int r = 0;

	if (l->fd >= 0 && ioctl(l->fd, LOOP_CLR_FD, 0) < 0)
		r = -errno;
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	return r;
}

void loop_relinquish(struct loop_device *l)
{
	l->relinquished = true;
}

void loop_cleanup(struct loop_device *l)
{
	if (l->fd < 0)
		return;
	if (l->relinquished) {
		close(l->fd);
		l->fd = -1;
	} else
		loop_detach(l);
}

int loop_foreach(int (*fn)(int nr, const char *backing, void *userdata), void *userdata)
{
	DIR *d = opendir("/sys/block");
	struct dirent *de;
	int r = 0;

	if (!d)
		return -errno;
	while (r == 0 && (de = readdir(d))) {
		char path[300], backing[4096];
		int nr;

		if (sscanf(de->d_name, "loop%d", &nr) != 1)
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file", de->d_name);
		if (sysfs_read(path, backing, sizeof(backing)) < 0)
			continue; /* not attached */
		size_t len = strlen(backing);
		if (len > 10 && strcmp(backing + len - 10, " (deleted)") == 0)
			backing[len - 10] = 0;
		r = fn(nr, backing, userdata);
	}
	closedir(d);
	return r;
}

struct loop_user {
	const struct stat *st;
	int nr;
};

static int loop_user_find(int nr, const char *backing, void *userdata)
{
	struct loop_user *u = userdata;

	(void)backing;
	if (!loop_nr_uses(nr, u->st))
		return 0;
	u->nr = nr;
	return 1;
}

int loop_find_user(const struct stat *st)
{
	struct loop_user user = { .st = st, .nr = -ENOENT };

	loop_foreach(loop_user_find, &user);
	return user.nr;
}
