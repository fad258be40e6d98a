// Running the cformer binary (CF_CLI) through the shell from a test, for the tests that feed it
// stdin from files (tests/unit/test_cli_encoder.c, test_cli_translate.c).
#ifndef CF_TEST_CLI_SHELL_H
#define CF_TEST_CLI_SHELL_H

#include <stddef.h>

// stdout and stderr of the last cf_cli_sh, NUL-terminated (truncated to fit).
extern char cf_cli_out[1 << 17], cf_cli_err[1 << 16];

// CF_CLI as an absolute path (the commands run inside the test's temporary folder), or NULL
// with a message when it is not set.
const char *cf_cli_path(void);
// Reads a file into buf (at most cap - 1 bytes, NUL-terminated; "" when it cannot be read).
void cf_cli_slurp(const char *path, char *buf, size_t cap);
// Runs `cformer ARGS` (printf-style; ARGS may redirect stdin) in the test's folder with one
// thread; returns its exit status (128 when it did not exit); output in cf_cli_out/cf_cli_err.
int cf_cli_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
