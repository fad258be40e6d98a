// API hygiene: the public header compiles as C++ (extern "C", no C-only constructs).
#include "cformer/cformer.h"

int main() {
    cf_config c = cf_config_llama();
    cf_sampler_params s = cf_sampler_default_params();
    return (c.n_layers > 0 && s.top_p > 0.0f) ? 0 : 1;
}
