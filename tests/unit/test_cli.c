// Tests: cli.
#include "../test.h"

const cf_test tests_cli[] = {
    {NULL, NULL},
};
