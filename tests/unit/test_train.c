// Tests: train.
#include "../test.h"

const cf_test tests_train[] = {
    {NULL, NULL},
};
