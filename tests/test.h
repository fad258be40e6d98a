// The test harness: typed checks that record failures and keep going, and tables of named
// tests that run_tests.c runs, each in a child process with a time limit.
#ifndef CF_TEST_H
#define CF_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct cf_test {
    const char *name;
    void (*fn)(void);
} cf_test;

// Set by the runner; checks count failures into it.
extern int cf_test_failures;

#define CF_CHECK(cond)                                                                  \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);  \
            cf_test_failures++;                                                         \
        }                                                                               \
    } while (0)

#define CF_CHECK_EQ(a, b)                                                               \
    do {                                                                                \
        long long a_ = (long long)(a), b_ = (long long)(b);                             \
        if (a_ != b_) {                                                                 \
            fprintf(stderr, "  %s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, \
                    #a, #b, a_, b_);                                                    \
            cf_test_failures++;                                                         \
        }                                                                               \
    } while (0)

#define CF_CHECK_NEAR(a, b, tol)                                                        \
    do {                                                                                \
        double a_ = (double)(a), b_ = (double)(b);                                      \
        if (!(fabs(a_ - b_) <= (tol))) {                                                \
            fprintf(stderr, "  %s:%d: |%s - %s| <= %g failed: %.9g vs %.9g\n", __FILE__, \
                    __LINE__, #a, #b, (double)(tol), a_, b_);                           \
            cf_test_failures++;                                                         \
        }                                                                               \
    } while (0)

#define CF_CHECK_STATUS(expr, want)                                                     \
    do {                                                                                \
        int got_ = (int)(expr);                                                         \
        if (got_ != (int)(want)) {                                                      \
            fprintf(stderr, "  %s:%d: %s returned %d, expected %s (%d)\n", __FILE__,    \
                    __LINE__, #expr, got_, #want, (int)(want));                         \
            cf_test_failures++;                                                         \
        }                                                                               \
    } while (0)

#define CF_CHECK_STR_CONTAINS(s, sub)                                                   \
    do {                                                                                \
        const char *s_ = (s);                                                           \
        if (!s_ || !strstr(s_, (sub))) {                                                \
            fprintf(stderr, "  %s:%d: '%s' does not contain '%s'\n", __FILE__, __LINE__, \
                    s_ ? s_ : "(null)", (sub));                                         \
            cf_test_failures++;                                                         \
        }                                                                               \
    } while (0)

// Largest absolute difference and the worst |a-b| / (atol + rtol |b|) ratio over n values;
// a ratio above 1 fails. Prints the name and both numbers either way when verbose.
double cf_test_compare(const char *what, const float *got, const float *want, int64_t n,
                       double atol, double rtol);
// Normalized mean squared error sum((a-b)^2) / sum(b^2), the kernel-vs-reference metric.
double cf_test_nmse(const float *a, const float *b, int64_t n);

// Path of a file under tests/fixtures (CF_FIXTURES overrides the folder).
const char *cf_test_fixture(const char *name);
// A fresh temporary folder for this test (removed by the runner afterwards).
const char *cf_test_tmpdir(void);
// Writes text to dir/name (a failure shows up as the file missing where a test reads it).
void cf_test_put(const char *dir, const char *name, const char *text);
extern int cf_test_verbose;

#endif
