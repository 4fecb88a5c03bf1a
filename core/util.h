/*
 * util.h - small shared helpers: numbers, hex, files written atomically,
 * secret wiping.
 */
#ifndef MP_UTIL_H
#define MP_UTIL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <time.h>

#include "err.h"

/* Parse an unsigned integer: decimal, or hex when written 0x...; rejects
 * junk, signs and overflow beyond max. */
int mp_parse_uint(const char *s, uint64_t max, uint64_t *out) MP_MUST_CHECK;
/* Parse a hex number (with or without 0x) up to max. */
int mp_parse_hex(const char *s, uint64_t max, uint64_t *out) MP_MUST_CHECK;
/* Parse a VID (1..0xFFF4) or PID (1..0xFFFF) given in hex. */
int mp_parse_vid(const char *what, const char *s, uint16_t *out) MP_MUST_CHECK;
int mp_parse_pid(const char *what, const char *s, uint16_t *out) MP_MUST_CHECK;
/* Parse YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or RFC 3339 with Z into UTC time_t. */
int mp_parse_time(const char *s, time_t *out) MP_MUST_CHECK;

/* Lowercase/uppercase hex of n bytes into out (2n+1 bytes). */
void mp_hex(const uint8_t *in, size_t n, char *out, int upper);
/* SHA-256 of len octets. The digest is fetched once per process (OpenSSL 3's
 * SHA256() fetches it on every call: most of its cost for a DAC-sized input). */
void mp_sha256(const void *data, size_t len, uint8_t out[32]);
/* Decode hex (even length, either case); returns decoded length or -1. */
long mp_unhex(const char *s, uint8_t *out, size_t cap);

/* Open an input for reading, refusing anything but a regular file (a FIFO
 * would block, a device never ends) before reading a byte. */
struct stat;
int mp_open_input(const char *path, int *fd, struct stat *st) MP_MUST_CHECK;
/* The same as a stdio stream ("rb"); NULL with the error recorded. */
FILE *mp_fopen_input(const char *path);
/* Read a whole regular file (max bytes). *buf is NUL-terminated for convenience. */
int mp_read_file(const char *path, size_t max, uint8_t **buf, size_t *len) MP_MUST_CHECK;

/* Write a file atomically: temp file in the same directory, fsync, rename.
 * mode is the final mode (0600 for secrets). Refuses an existing file unless
 * force. */
int mp_write_file(const char *path, const void *data, size_t len, int mode,
                  int force) MP_MUST_CHECK;
/* Check early that path can be created (directory writable, file absent
 * unless force) so that no key is made for an output that cannot be written. */
int mp_check_output(const char *path, int force) MP_MUST_CHECK;

/* A file written as a stream and put in place only when complete (what
 * mp_write_file does for a buffer). The data goes to an unnamed file in the
 * target folder (O_TMPFILE), so a killed run leaves nothing behind; s->tmp
 * names it for reading back (/proc/self/fd/N). Where the file system has no
 * O_TMPFILE, FILE.tmp.XXXXXX beside it. Buffered writes to s->f, then
 * mp_stream_close (flush, fsync; the data stays readable at s->tmp, e.g. to
 * be signed) and mp_stream_commit (linked into place, or replacing the file
 * with force; the folder fsynced). mp_stream_abort drops the data; it is
 * safe after commit and on a stream never opened. */
typedef struct mp_stream {
    FILE *f;
    char *buf; /* its stdio buffer (64 KiB), wiped when the stream closes */
    int fd;    /* the unnamed file (O_TMPFILE), -1 for a named temporary */
    char path[4096], tmp[4200];
} mp_stream;
int mp_stream_open(mp_stream *s, const char *path, int mode) MP_MUST_CHECK;
int mp_stream_close(mp_stream *s) MP_MUST_CHECK;
int mp_stream_commit(mp_stream *s, int force) MP_MUST_CHECK;
void mp_stream_abort(mp_stream *s);
int mp_mkdir_p(const char *path, int mode) MP_MUST_CHECK;
int mp_fsync_dir(const char *dir);

/* Take the output folder for this process (flock on DIR/.matter-pki.lock,
 * released at exit): a second batch in the same folder would otherwise
 * sweep the first one's in-flight files. MP_ERR_IO when it is taken. */
int mp_dir_lock(const char *dir, int *fd) MP_MUST_CHECK;

/* The dot-named temporary file of mp_outdir_write's rename path (below), as a
 * killed run may leave it: the batch sweeps remove such names. */
int mp_is_tmp_name(const char *name);

/* Batch outputs in one folder opened once, shared by the threads of a batch.
 * A file appears whole or not at all: it is written as an unnamed O_TMPFILE
 * inode and then linked under its name, so a killed run leaves no temporary
 * names behind. Where the file system or kernel cannot do that, or the name
 * exists (a re-run replacing a file), it goes through a dot-named temporary
 * file and a rename. No fsync: a batch calls mp_outdir_sync once per chunk. */
typedef struct mp_outdir {
    int fd;
    atomic_int no_tmpfile;
    int umask; /* the process umask (-1: unknown): no fchmod when it keeps the mode */
    int tmp_fd; /* where the rename path's temporary names go: -1 (default) this
                   folder; a private folder of the caller's (dac issue's staging
                   folder), so that a killed run's leftovers are provably its own */
    char path[4096];
} mp_outdir;
int mp_outdir_open(mp_outdir *d, const char *path) MP_MUST_CHECK;
int mp_outdir_write(mp_outdir *d, const char *name, const uint8_t *data, size_t len, int mode) MP_MUST_CHECK;
int mp_outdir_sync(mp_outdir *d) MP_MUST_CHECK;
void mp_outdir_close(mp_outdir *d);

/* SIGINT/SIGTERM set a flag that batch commands check between chunks. */
void mp_signals_install(void);
int mp_interrupted(void);

/* Wipe then free. */
void mp_wipe(void *p, size_t n);
/* Test fault injection: when env MATTER_PKI_FAULT names this point the
 * process is killed there (SIGKILL, as by kill -9 or a power cut); with
 * "NAME:stop" it stops there once (SIGSTOP) so a test can change the world
 * under it and let it go on (SIGCONT). Tests only; unset, it costs a getenv. */
void mp_fault_point(const char *name);
void mp_free_secret(void *p, size_t n);

/* A stdio stream on fd whose buffer is ours (*vbuf), so that what passed
 * through it (passcodes, keys) is wiped: close it with mp_fclose_wiped,
 * which closes fd too. NULL (fd left open) when out of memory. */
FILE *mp_fdopen_wiped(int fd, const char *mode, char **vbuf);
int mp_fclose_wiped(FILE *f, char *vbuf);
/* getline(3) that wipes every buffer it gives up when a line grows
 * (getline's realloc leaves the old copy behind); free with mp_free_secret(*line, *cap). */
long mp_getline_wiped(char **line, size_t *cap, FILE *f);

/* From now on jansson wipes every block it frees (call before parsing or
 * building JSON that holds a key or a passcode; idempotent). */
void mp_json_wipe_frees(void);

/* Time as "YYYY-MM-DDTHH:MM:SSZ". */
void mp_time_iso(time_t t, char out[21]);

#endif
