// Tests: nn.
#include "../test.h"

const cf_test tests_nn[] = {
    {NULL, NULL},
};
