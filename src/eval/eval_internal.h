// Shared by the metric files in src/eval: text as Python sees it (code points, str.lower(),
// str.isspace(), the re module's word characters) and a growable code-point buffer.
#ifndef CF_EVAL_INTERNAL_H
#define CF_EVAL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../internal.h"
#include "cformer/eval.h"

// A growable array of code points.
typedef struct cf__cps {
    uint32_t *v;
    size_t n, cap;
    bool oom;  // an append failed; the contents are incomplete
} cf__cps;

void cf__cps_push(cf__cps *b, uint32_t c);
void cf__cps_free(cf__cps *b);

// Decodes len bytes of UTF-8 into code points, appended to out. Each maximal invalid subpart
// becomes one U+FFFD (Python's errors="replace"). Returns the number of replacements.
size_t cf__utf8_decode(const char *s, size_t len, cf__cps *out);
// Encodes n code points as UTF-8 into a fresh NUL-terminated string (cf__free); NULL on OOM.
char *cf__utf8_encode(const uint32_t *c, size_t n, size_t *len);

// Python str.isspace(): White_Space-like characters (bidi WS/B/S or category Zs).
bool cf__py_isspace(uint32_t c);
// A word character of Python's re module (str patterns): alphanumeric (L*, N*) or '_'.
bool cf__py_isword(uint32_t c);
// Python str.lower() of n code points (full mappings, Final_Sigma), appended to out.
void cf__py_lower(const uint32_t *c, size_t n, cf__cps *out);
// Python str.rstrip(): the length without trailing whitespace.
size_t cf__py_rstrip_len(const uint32_t *c, size_t n);

#endif
