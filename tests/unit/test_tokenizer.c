// Tests: tokenizer.
#include "../test.h"

const cf_test tests_tokenizer[] = {
    {NULL, NULL},
};
