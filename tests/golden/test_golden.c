// Tests: golden.
#include "../test.h"

const cf_test tests_golden[] = {
    {NULL, NULL},
};
