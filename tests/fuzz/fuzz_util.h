/* SPDX-License-Identifier: MIT */
/* fuzz_util - what the fuzz targets share: a private temporary
 * directory, writing the fuzz bytes to a file, and quiet logging.
 *
 * Logging: info, warning and error lines are dropped (hostile input
 * makes many); fatal and panic lines go to stderr so that a crash report
 * says why.  FUZZ_VERBOSE=1 in the environment prints everything.  A
 * target that must survive a fatal error (the configuration reader) sets
 * fuzz_fatal_jmp; fuzz_quiet then jumps there instead of exiting. */
#ifndef POSTINO_TESTS_FUZZ_UTIL_H
#define POSTINO_TESTS_FUZZ_UTIL_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

/* The libFuzzer entry points (replay_main.c calls them too). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* fuzz_quiet - route msg_* through the filter described above. */
void fuzz_quiet(void);

/* fuzz_fatal_jmp - when not NULL, msg_fatal longjmps here (value 1). */
extern jmp_buf *fuzz_fatal_jmp;
/* fuzz_last_fatal - the text of the last fatal message ("" if none). */
extern char fuzz_last_fatal[512];

/* fuzz_tmpdir - a directory of our own (mkdtemp, under $TMPDIR or
 * /dev/shm when it exists), created on first use and removed with its
 * files at exit. */
const char *fuzz_tmpdir(void);

/* fuzz_path - "TMPDIR/name" in static storage (one per call site is
 * enough: targets keep it in a static buffer of their own). */
const char *fuzz_path(const char *name);

/* fuzz_write - replace path with len bytes of data, then chmod it to
 * mode; aborts on an I/O error (the harness is broken, not the input). */
void fuzz_write(const char *path, const void *data, size_t len, int mode);

#endif
