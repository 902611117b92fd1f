/* SPDX-License-Identifier: MIT */
/*
 * The state file shared by img-loop, img-mount and img-umount: what is
 * attached and mounted for one image. Human-readable "key=value" lines, in
 * order; a key may repeat (one "mount=" line per mount). Always written to a
 * temporary file and renamed, so a reader never sees half a file.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct state_item {
	char *key;
	char *value;
};

struct state {
	char *path;
	struct state_item *items;
	size_t n;
};

#define STATE_INIT { 0 }

/* -ENOENT if there is no such file; -EBADMSG if a line is not key=value. */
int state_read(struct state *s, const char *path);
/* The first value of key, or NULL. */
const char *state_get(const struct state *s, const char *key);
/* Replaces the first value of key, or appends it. */
int state_set(struct state *s, const char *key, const char *value);
/* Appends key=value even if key is there. */
int state_add(struct state *s, const char *key, const char *value);
/* Removes every line of key. */
void state_unset(struct state *s, const char *key);
/* True if the recorded loop device ("loop=") still backs the recorded image
 * ("image_id=DEV:INODE"): false after a reboot, a detach behind our back,
 * or when the device number went to someone else's image since. */
bool state_attached(const struct state *s);
/* Drops every line after the first n. */
void state_truncate(struct state *s, size_t n);
/* Writes s->path atomically. */
int state_write(const struct state *s);
int state_remove(const struct state *s);
void state_free(struct state *s);
