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
	size_t line; /* after -EBADMSG from state_read: the bad line */
};

#define STATE_INIT { 0 }

/* -ENOENT if there is no such file; -EBADMSG (s->line says which) if a
 * line is not key=value with a key the tools write and a value without
 * control characters: a state file is never guessed at. */
int state_read(struct state *s, const char *path);
/* state_read, with one message on error (none for -ENOENT). */
int state_load(struct state *s, const char *path);
/* False if value holds a control character (a newline above all), which
 * no state value may. */
bool state_value_ok(const char *value);
/* The first value of key, or NULL. */
const char *state_get(const struct state *s, const char *key);
/* Replaces the first value of key, or appends it. -EINVAL for an unknown
 * key or a value that state_value_ok() refuses. */
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
