// See cli_shell.h.
#include "cli_shell.h"

#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "../test.h"

char cf_cli_out[1 << 17], cf_cli_err[1 << 16];

const char *cf_cli_path(void) {
    static char abs[4096];
    const char *p = getenv("CF_CLI");
    if (!p || !*p) {
        fprintf(stderr, "  CF_CLI is not set; skipping (run through `make test-unit`)\n");
        return NULL;
    }
    return realpath(p, abs) ? abs : p;
}

void cf_cli_slurp(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = 0;
    if (f) fclose(f);
}

int cf_cli_sh(const char *fmt, ...) {
    char args[4096], cmd[8192], o[1024], e[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(o, sizeof o, "%s/cli_sh_out.txt", cf_test_tmpdir());
    snprintf(e, sizeof e, "%s/cli_sh_err.txt", cf_test_tmpdir());
    snprintf(cmd, sizeof cmd, "cd '%s' && CF_NUM_THREADS=1 '%s' %s >'%s' 2>'%s'",
             cf_test_tmpdir(), cf_cli_path(), args, o, e);
    int rc = system(cmd);
    cf_cli_slurp(o, cf_cli_out, sizeof cf_cli_out);
    cf_cli_slurp(e, cf_cli_err, sizeof cf_cli_err);
    rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
    if (cf_test_verbose) fprintf(stderr, "  $ cformer %s -> %d\n%s", args, rc, cf_cli_err);
    return rc;
}
