// API hygiene: the public header alone compiles as strict C99 and C11 (see the Makefile's
// header-check target) and declares what it promises.
#include "cformer/cformer.h"

int main(void) {
    cf_ctx_params p = cf_ctx_default_params();
    cf_config c = cf_config_gpt2();
    (void)p;
    return c.n_layers == 12 && cf_status_str(CF_OK) != 0 ? 0 : 1;
}
