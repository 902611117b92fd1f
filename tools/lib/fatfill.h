/* SPDX-License-Identifier: MIT */
/*
 * A directory's files written into a new FAT filesystem inside a disk image
 * with mtools (mmd, mcopy -i IMAGE@@OFFSET): a directory at a time, its
 * files in name order, then its subdirectories, so that the same tree gives
 * the same bytes. (lib/fat.c reads FAT; this is its only writer.)
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Copies the tree under dir into the FAT at offset bytes into image. With
 * keep_times each file keeps its modification time (mcopy -m); without,
 * mtools stamps everything with SOURCE_DATE_EPOCH, or the time of the run.
 * what names the filesystem in messages ("the vfat filesystem of partition
 * 1"). Anything but files and directories is refused. One line is logged
 * on failure; returns 0 or -errno. */
int fat_fill(const char *image, uint64_t offset, const char *dir, bool keep_times, const char *what);
