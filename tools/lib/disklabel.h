/* SPDX-License-Identifier: MIT */
/*
 * The partition table of an image file, read and written with libfdisk,
 * and the filesystem type in a partition, probed with libblkid: what
 * img-grow and img-shrink share.
 */
#pragma once

#include <libfdisk.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void fdisk_unref_contextp(struct fdisk_context **cxt);
void fdisk_unref_tablep(struct fdisk_table **tb);
void fdisk_free_iterp(struct fdisk_iter **itr);

/* For fdisk_set_ask(): libfdisk's messages go to the debug log (its
 * warnings, "The backup GPT table is not on the end of the device", are
 * expected when a file changed size) and its questions are refused:
 * everything is decided up front. */
int disklabel_ask(struct fdisk_context *cxt, struct fdisk_ask *ask, void *data);

/* A libfdisk context on fd; libfdisk's warnings go to the debug log and
 * its questions are refused. Logs its own error. */
int disklabel_open(int fd, const char *path, bool readonly, struct fdisk_context **ret);
/* A GPT header field (GPT_LABELITEM_*). */
int disklabel_gpt_item(struct fdisk_context *cxt, int id, uint64_t *v);
/* The last usable sector of a disk of total sectors under the table in
 * cxt, as libfdisk sets it: the end of the disk for MBR, the sector before
 * the backup entries for GPT (gpt_calculate_last_lba()). */
int disklabel_last_lba(struct fdisk_context *cxt, bool gpt, uint64_t total, uint64_t *last);
/* Sectors a GPT needs after the last usable LBA (entries and header). */
int disklabel_gpt_tail(struct fdisk_context *cxt, uint64_t *sectors);
enum {
	/* GPT: put the backup entries and header right after the last
	 * partition (for a file about to be cut there). */
	DISKLABEL_GPT_MINIMIZE = 1 << 0,
};
/* Sets the size of partition partno (libfdisk's number, from 0) that
 * starts at start, writes the table and syncs. -ESTALE if the partition
 * no longer starts there. Opening the table read-write also moves a GPT's
 * backup header and entries to the end of a file that grew. */
int disklabel_set_size(int fd, const char *path, size_t partno, uint64_t start, uint64_t sectors,
		       unsigned flags);

/* The filesystem type (blkid's TYPE: "ext4", "vfat") in the size bytes at
 * offset in fd; "" if none. -ENOTUNIQ if several signatures are there. */
int disk_probe_fstype(int fd, uint64_t offset, uint64_t size, char *type, size_t len);
