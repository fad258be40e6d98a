// Tests: loaders.
#include "../test.h"

const cf_test tests_loaders[] = {
    {NULL, NULL},
};
