/* SPDX-License-Identifier: MIT */
#include "disklabel.h"

#include <blkid.h>
#include <errno.h>
#include <stdio.h>

#include "log.h"

void fdisk_unref_contextp(struct fdisk_context **cxt)
{
	fdisk_unref_context(*cxt);
}

void fdisk_unref_tablep(struct fdisk_table **tb)
{
	fdisk_unref_table(*tb);
}

void fdisk_free_iterp(struct fdisk_iter **itr)
{
	fdisk_free_iter(*itr);
}

int disklabel_ask(struct fdisk_context *cxt, struct fdisk_ask *ask, void *data)
{
	(void)cxt;
	(void)data;
	switch (fdisk_ask_get_type(ask)) {
	case FDISK_ASKTYPE_INFO:
	case FDISK_ASKTYPE_WARN:
	case FDISK_ASKTYPE_WARNX:
		log_debug("libfdisk: %s", fdisk_ask_print_get_mesg(ask));
		return 0;
	default:
		return -EINVAL; /* no questions: everything is decided up front */
	}
}

int disklabel_open(int fd, const char *path, bool readonly, struct fdisk_context **ret)
{
	struct fdisk_context *cxt = fdisk_new_context();
	int r;

	if (!cxt)
		return log_errno(ENOMEM, "cannot read the partition table of '%s'", path);
	fdisk_set_ask(cxt, disklabel_ask, NULL);
	r = fdisk_assign_device_by_fd(cxt, fd, path, readonly);
	if (r < 0) {
		fdisk_unref_context(cxt);
		return log_errno(r, "cannot read the partition table of '%s'", path);
	}
	*ret = cxt;
	return 0;
}

int disklabel_gpt_item(struct fdisk_context *cxt, int id, uint64_t *v)
{
	struct fdisk_labelitem *item = fdisk_new_labelitem();
	int r;

	if (!item)
		return -ENOMEM;
	r = fdisk_get_disklabel_item(cxt, id, item);
	if (r == 0)
		r = fdisk_labelitem_get_data_u64(item, v);
	fdisk_unref_labelitem(item);
	return r == 0 ? 0 : r < 0 ? r : -EINVAL;
}

int disklabel_gpt_tail(struct fdisk_context *cxt, uint64_t *sectors)
{
	uint64_t first, lastent;
	int r;

	r = disklabel_gpt_item(cxt, GPT_LABELITEM_ENTRIESLBA, &first);
	if (r == 0)
		r = disklabel_gpt_item(cxt, GPT_LABELITEM_ENTRIESLASTLBA, &lastent);
	if (r < 0)
		return r;
	if (lastent < first)
		return -EINVAL;
	*sectors = 1 + (lastent - first + 1);
	return 0;
}

int disklabel_last_lba(struct fdisk_context *cxt, bool gpt, uint64_t total, uint64_t *last)
{
	uint64_t tail;
	int r;

	if (!gpt) {
		*last = total - 1;
		return 0;
	}
	r = disklabel_gpt_tail(cxt, &tail);
	if (r < 0)
		return r;
	if (total < 1 + tail)
		return -ENOSPC;
	*last = total - 1 - tail;
	return 0;
}

int disklabel_set_size(int fd, const char *path, size_t partno, uint64_t start, uint64_t sectors,
		       unsigned flags)
{
	struct fdisk_context *cxt = NULL;
	struct fdisk_partition *pa = NULL, *cur = NULL;
	int r;

	r = disklabel_open(fd, path, false, &cxt);
	if (r < 0)
		return r;
	if (fdisk_get_partition(cxt, partno, &cur) < 0 || !cur ||
	    fdisk_partition_get_start(cur) != start) {
		r = -ESTALE;
		goto out;
	}
	if ((flags & DISKLABEL_GPT_MINIMIZE) && fdisk_is_label(cxt, GPT))
		fdisk_gpt_enable_minimize(fdisk_get_label(cxt, NULL), 1);
	pa = fdisk_new_partition();
	if (!pa) {
		r = -ENOMEM;
		goto out;
	}
	r = fdisk_partition_set_size(pa, sectors);
	if (r == 0)
		r = fdisk_set_partition(cxt, partno, pa);
	if (r == 0)
		r = fdisk_write_disklabel(cxt);
	/* fsync, and no global sync() */
	if (r == 0)
		r = fdisk_deassign_device(cxt, 1);
out:
	fdisk_unref_partition(pa);
	fdisk_unref_partition(cur);
	fdisk_unref_context(cxt);
	return r;
}

int disk_probe_fstype(int fd, uint64_t offset, uint64_t size, char *type, size_t len)
{
	blkid_probe pr = blkid_new_probe();
	const char *t = NULL;
	int r;

	type[0] = '\0';
	if (!pr)
		return -ENOMEM;
	r = blkid_probe_set_device(pr, fd, (blkid_loff_t)offset, (blkid_loff_t)size);
	if (r == 0) {
		blkid_probe_enable_superblocks(pr, 1);
		blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
		r = blkid_do_safeprobe(pr);
	}
	if (r == 0 && blkid_probe_lookup_value(pr, "TYPE", &t, NULL) == 0)
		snprintf(type, len, "%s", t);
	blkid_free_probe(pr);
	if (r == -2)
		return -ENOTUNIQ;
	return r < 0 ? -EIO : 0;
}
