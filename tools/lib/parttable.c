/* SPDX-License-Identifier: MIT */
#include "parttable.h"

#include <blkid.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static int part_cmp(const void *a, const void *b)
{
	return ((const struct part *)a)->nr - ((const struct part *)b)->nr;
}

int parttable_read(const char *path, struct part parts[static PARTTABLE_MAX])
{
	blkid_probe pr = blkid_new_probe_from_filename(path);
	blkid_partlist ls;
	int n = 0, count;

	if (!pr)
		return errno ? -errno : -EIO;
	blkid_probe_enable_superblocks(pr, 0);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
	ls = blkid_probe_get_partitions(pr);
	count = ls ? blkid_partlist_numof_partitions(ls) : 0;
	if (!ls || count <= 0) {
		blkid_free_probe(pr);
		return -ENOMEDIUM;
	}
	for (int i = 0; i < count && n < PARTTABLE_MAX; i++) {
		blkid_partition p = blkid_partlist_get_partition(ls, i);

		if (blkid_partition_is_extended(p))
			continue;
		parts[n++] = (struct part){
			.nr = blkid_partition_get_partno(p),
			.start = (uint64_t)blkid_partition_get_start(p) * 512,
			.size = (uint64_t)blkid_partition_get_size(p) * 512,
		};
	}
	blkid_free_probe(pr);
	qsort(parts, (size_t)n, sizeof(*parts), part_cmp);
	return n;
}

int part_probe(int fd, const struct part *p, struct part_fs *fs)
{
	blkid_probe pr = blkid_new_probe();
	const char *v;
	int r;

	*fs = (struct part_fs){ 0 };
	if (!pr)
		return -ENOMEM;
	r = blkid_probe_set_device(pr, fd, (blkid_loff_t)p->start, (blkid_loff_t)p->size);
	if (r == 0) {
		blkid_probe_enable_superblocks(pr, 1);
		blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_LABEL |
							      BLKID_SUBLKS_UUID | BLKID_SUBLKS_VERSION);
		r = blkid_do_safeprobe(pr);
	}
	if (r == 0 && blkid_probe_lookup_value(pr, "TYPE", &v, NULL) == 0)
		snprintf(fs->type, sizeof(fs->type), "%s", v);
	if (r == 0 && blkid_probe_lookup_value(pr, "LABEL", &v, NULL) == 0)
		snprintf(fs->label, sizeof(fs->label), "%s", v);
	if (r == 0 && blkid_probe_lookup_value(pr, "UUID", &v, NULL) == 0)
		snprintf(fs->uuid, sizeof(fs->uuid), "%s", v);
	if (r == 0 && blkid_probe_lookup_value(pr, "VERSION", &v, NULL) == 0)
		snprintf(fs->version, sizeof(fs->version), "%s", v);
	blkid_free_probe(pr);
	if (r == -2)
		return -ENOTUNIQ;
	return r < 0 ? -EIO : 0;
}
