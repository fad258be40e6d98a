// Runs the test tables: every test in a child process with a time limit, so a crash or a hang
// is reported as that test's failure and the rest still run. `run_tests [substring]` runs the
// matching tests; -v prints comparisons; -n runs in-process (for debuggers). Exits non-zero on
// any failure and ends with the line "N passed, N failed".
#include <dirent.h>
#include <stdbool.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

int cf_test_failures;
int cf_test_verbose;
static char g_tmpdir[256];

extern const cf_test tests_kernels[], tests_nn[], tests_model[], tests_io[], tests_train[],
    tests_infer[], tests_golden[], tests_loaders[], tests_cli[], tests_tokenizer[],
    tests_tokenizer_golden[], tests_bert[], tests_s2s[], tests_s2s_grad[];
extern const cf_test tests_eval[];
extern const cf_test tests_cli_encoder[];
extern const cf_test tests_s2s_train[], tests_cli_translate[];
extern const cf_test tests_prepack[], tests_bf16[];
static const cf_test *const TABLES[] = {tests_kernels, tests_nn,        tests_model,  tests_io,
                                        tests_tokenizer, tests_train, tests_infer,  tests_golden,
                                        tests_loaders, tests_cli, tests_tokenizer_golden,
                                        tests_bert, tests_s2s, tests_s2s_grad,
                                        tests_eval, tests_cli_encoder, tests_s2s_train,
                                        tests_cli_translate, tests_prepack, tests_bf16};

double cf_test_compare(const char *what, const float *got, const float *want, int64_t n,
                       double atol, double rtol) {
    double maxd = 0, worst = 0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        double r = d / (atol + rtol * fabs((double)want[i]));
        if (d > maxd || isnan(d)) maxd = isnan(d) ? INFINITY : d;
        if (r > worst || isnan(r)) {
            worst = isnan(r) ? INFINITY : r;
            at = i;
        }
    }
    if (worst > 1.0) {
        fprintf(stderr, "  %s: max |diff| %.3g, element %lld: %.9g vs %.9g (atol %g, rtol %g)\n",
                what, maxd, (long long)at, got[at], want[at], atol, rtol);
        cf_test_failures++;
    } else if (cf_test_verbose) {
        fprintf(stderr, "  %s: max |diff| %.3g over %lld values\n", what, maxd, (long long)n);
    }
    return maxd;
}

double cf_test_nmse(const float *a, const float *b, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return den > 0 ? num / den : num;
}

const char *cf_test_fixture(const char *name) {
    static char buf[1024];
    const char *dir = getenv("CF_FIXTURES");
    snprintf(buf, sizeof buf, "%s/%s", dir ? dir : "tests/fixtures", name);
    return buf;
}

const char *cf_test_tmpdir(void) { return g_tmpdir; }

void cf_test_put(const char *dir, const char *name, const char *text) {
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void rm_rf(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            rm_rf(p);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int run_one(const cf_test *t, bool fork_it, int timeout) {
    snprintf(g_tmpdir, sizeof g_tmpdir, "/tmp/cf_test_%d_%ld", (int)getpid(), (long)random());
    mkdir(g_tmpdir, 0755);
    int ok;
    if (!fork_it) {
        cf_test_failures = 0;
        t->fn();
        ok = cf_test_failures == 0;
    } else {
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) {
            alarm((unsigned)timeout);
            cf_test_failures = 0;
            t->fn();
            fflush(stderr);
            _exit(cf_test_failures ? 1 : 0);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        if (WIFSIGNALED(status)) {
            int sig = WTERMSIG(status);
            fprintf(stderr, "  %s: %s (signal %d)\n", t->name,
                    sig == SIGALRM ? "timed out" : "crashed", sig);
        }
        ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    rm_rf(g_tmpdir);
    return ok;
}

int main(int argc, char **argv) {
    const char *pattern = NULL;
    bool fork_it = true;
    int timeout = 300;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v")) cf_test_verbose = 1;
        else if (!strcmp(argv[i], "-n")) fork_it = false;
        else pattern = argv[i];
    }
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    int passed = 0, failed = 0;
    for (size_t k = 0; k < sizeof TABLES / sizeof *TABLES; k++)
        for (const cf_test *t = TABLES[k]; t->name; t++) {
            if (pattern && !strstr(t->name, pattern)) continue;
            struct timespec a, b;
            clock_gettime(CLOCK_MONOTONIC, &a);
            int ok = run_one(t, fork_it, timeout);
            clock_gettime(CLOCK_MONOTONIC, &b);
            double s = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
            printf("%s %-44s %7.2f s\n", ok ? "ok  " : "FAIL", t->name, s);
            fflush(stdout);
            if (ok) passed++;
            else failed++;
        }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
