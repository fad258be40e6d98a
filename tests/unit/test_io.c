// Tests: io.
#include "../test.h"

const cf_test tests_io[] = {
    {NULL, NULL},
};
