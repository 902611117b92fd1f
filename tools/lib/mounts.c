/* SPDX-License-Identifier: MIT */
#include "mounts.h"

#include <errno.h>
#include <libmount.h>

int mounts_foreach(int (*fn)(const struct mount_entry *m, void *userdata), void *userdata)
{
	struct libmnt_table *tb = mnt_new_table_from_file("/proc/self/mountinfo");
	struct libmnt_iter *it = mnt_new_iter(MNT_ITER_FORWARD);
	struct libmnt_fs *fs;
	int r = 0;

	if (!tb || !it) {
		mnt_unref_table(tb);
		mnt_free_iter(it);
		return -ENOMEM;
	}
	while (r == 0 && mnt_table_next_fs(tb, it, &fs) == 0) {
		struct mount_entry m = {
			.id = mnt_fs_get_id(fs),
			.target = mnt_fs_get_target(fs),
			.source = mnt_fs_get_source(fs),
			.fstype = mnt_fs_get_fstype(fs),
			.devno = mnt_fs_get_devno(fs),
		};
		if (m.target)
			r = fn(&m, userdata);
	}
	mnt_free_iter(it);
	mnt_unref_table(tb);
	return r;
}
