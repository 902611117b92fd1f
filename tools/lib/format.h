/* SPDX-License-Identifier: MIT */
/* Human-readable numbers for messages and progress lines. */
#pragma once

#include <stdint.h>

/* "512 B", "1.5 MiB", "3.8 GiB" */
const char *format_bytes(char buf[static 16], uint64_t n);
/* "42s", "3:07", "1:02:03" */
const char *format_duration(char buf[static 16], double seconds);
/* CLOCK_MONOTONIC in seconds */
double now_seconds(void);
