/* fdtest.h - helpers the factory-data unit tests share (test_fd.c). */
#ifndef MP_FDTEST_H
#define MP_FDTEST_H

#include <stddef.h>
#include <stdint.h>

#include "factory-data/fd.h"

/* A complete device with the SDK test DAC, PAI, key and CD. */
void fdt_make_device(mp_fd_device *d);
/* Every field of got equals want's (CU assertions naming the field). */
void fdt_same_fields(const char *what, const mp_fd_device *want, const mp_fd_device *got);
/* The image with the text `what` removed fails to decode with msg. */
void fdt_expect_missing(int format, const uint8_t *img, size_t n, const char *what, const char *msg);

#endif
