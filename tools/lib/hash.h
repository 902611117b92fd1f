/* SPDX-License-Identifier: MIT */
/* SHA-256 through OpenSSL's libcrypto (hardware-accelerated where it can). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_HEX_LEN 64

struct sha256 {
	void *ctx; /* EVP_MD_CTX */
};

int sha256_init(struct sha256 *h);
void sha256_update(struct sha256 *h, const void *buf, size_t len);
/* Hex digest of what was hashed so far; h stays usable. */
int sha256_peek_hex(struct sha256 *h, char out[static SHA256_HEX_LEN + 1]);
void sha256_free(struct sha256 *h);
/* Adds the first len bytes of fd (read with pread) to h. */
int sha256_add_fd(struct sha256 *h, int fd, uint64_t len);
/* 64 hex digits (either case). */
bool sha256_hex_valid(const char *s);
