// Tests: model.
#include "../test.h"

const cf_test tests_model[] = {
    {NULL, NULL},
};
