// Tests: infer.
#include "../test.h"

const cf_test tests_infer[] = {
    {NULL, NULL},
};
