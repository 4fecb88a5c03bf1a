/* fuzz_file.h - for parsers that read a path: the input written to one
 * temporary file (on /dev/shm when there is one), rewritten each run. */
#ifndef MP_FUZZ_FILE_H
#define MP_FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix)
{
    static char path[64];
    static int fd = -1;
    if (fd < 0) {
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(path, sizeof(path), "%s/mp-fuzz-XXXXXX%s", dir, suffix);
        fd = mkstemps(path, (int)strlen(suffix));
        if (fd < 0) abort();
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) abort();
    return path;
}

#endif
