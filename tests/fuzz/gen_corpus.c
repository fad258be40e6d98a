// Writes the seed corpora of the fuzz targets: a handful of small valid and invalid inputs per
// target, made with the test writers of tests/loaders. The output is committed; rerun only to
// change the seeds (crash reproducers found by fuzzing are added by hand, named crash-*):
//
//   make
//   cc -std=c11 -D_DEFAULT_SOURCE -Iinclude -I/usr/include/cjson -o build/gen_corpus
//      tests/fuzz/gen_corpus.c tests/loaders/model_files.c build/libcformer.a -lcjson -lm -lpthread
//   ./build/gen_corpus tests/fuzz/corpus
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../loaders/model_files.h"

// model_files.c names files under the test's temporary folder; here, under the corpus root.
static const char *g_root = ".";
const char *cf_test_tmpdir(void);
const char *cf_test_tmpdir(void) { return g_root; }

static void out(const char *target, const char *name, const void *data, size_t len) {
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/%s", g_root, target);
    tf_mkdir(dir);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (tf_write(path, data, len)) exit(1);
}

static void out_text(const char *target, const char *name, const char *text) {
    out(target, name, text, strlen(text));
}

static void safetensors(void) {
    const char *T = "fuzz_safetensors";
    size_t len;
    tf_model tm;
    tf_gpt2(&tm, 4, 1, 2, 8, 4);
    uint8_t *img = tf_st_image(&tm, "\"format\":\"pt\"", &len);
    out(T, "gpt2_f32", img, len);
    free(img);
    tf_set_dtype(&tm, TF_BF16);
    img = tf_st_image(&tm, NULL, &len);
    out(T, "gpt2_bf16", img, len);
    out(T, "gpt2_bf16_truncated", img, len - 5);
    free(img);
    tf_model_free(&tm);
    const char *hdr[] = {
        "{}",
        "{\"__metadata__\":{\"format\":\"pt\",\"a\":\"b\"}}",
        "{\"a\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[8,16]}}",
        "{\"a\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
        "{\"__metadata__\":{\"x\":1}}",
    };
    uint8_t zeros[16] = {0};
    size_t data_len[] = {0, 0, 16, 8, 8, 16, 12, 0};
    for (size_t i = 0; i < sizeof hdr / sizeof *hdr; i++) {
        char name[32];
        snprintf(name, sizeof name, "header_%zu", i);
        img = tf_st_raw(hdr[i], zeros, data_len[i], &len);
        out(T, name, img, len);
        free(img);
    }
    uint8_t huge[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}'};
    out(T, "huge_header_size", huge, 10);
    out(T, "empty", "", 0);
}

static void hf_config(void) {
    const char *T = "fuzz_hf_config";
    tf_model tm;
    tf_gpt2(&tm, 8, 2, 2, 16, 8);
    out_text(T, "gpt2", tm.config);
    tf_model_free(&tm);
    tf_llama(&tm, 8, 16, 2, 2, 1, 16, 16);
    out_text(T, "llama", tm.config);
    tf_model_free(&tm);
    out_text(T, "mistral",
             "{\"model_type\":\"mistral\",\"hidden_size\":8,\"intermediate_size\":16,"
             "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"num_key_value_heads\":1,"
             "\"vocab_size\":32,\"max_position_embeddings\":64,\"sliding_window\":null,"
             "\"rope_theta\":1000000.0,\"eos_token_id\":[2,3],\"bos_token_id\":null}");
    out_text(T, "cformer",
             "{\"model_type\":\"cformer\",\"cformer\":{\"family\":\"generic\",\"n_layers\":2,"
             "\"n_embd\":8,\"n_heads\":2,\"n_kv_heads\":1,\"head_dim\":4,\"n_ff\":16,"
             "\"vocab_size\":256,\"n_ctx\":32,\"norm\":\"rmsnorm\",\"pre_norm\":true,"
             "\"final_norm\":true,\"norm_eps\":1e-5,\"pos\":\"sinusoidal\",\"rope_theta\":10000,"
             "\"rope_style\":\"interleaved\",\"act\":\"geglu\",\"attn_bias\":false,"
             "\"mlp_bias\":true,\"tie_embeddings\":false,\"causal\":false,\"bos_id\":-1,"
             "\"eos_id\":3}}");
    out_text(T, "bad_heads", "{\"model_type\":\"gpt2\",\"n_embd\":8,\"n_head\":3}");
    out_text(T, "unsupported", "{\"model_type\":\"bert\"}");
    out_text(T, "rope_scaling",
             "{\"model_type\":\"llama\",\"rope_scaling\":{\"type\":\"linear\",\"factor\":2}}");
    out_text(T, "not_json", "{\"model_type\": \"gpt2\", ");
    out_text(T, "array", "[1, 2, {\"a\": null}]");
}

static void llama2c(void) {
    const char *T = "fuzz_llama2c";
    size_t len;
    uint8_t *img = tf_llama2c(4, 8, 1, 2, 1, 8, 4, 1, &len);
    out(T, "shared", img, len);
    out(T, "short", img, len - 4);
    out(T, "header_only", img, 28);
    uint32_t magic = 0x616b3432;
    memcpy(img, &magic, 4);
    out(T, "ak42", img, len);
    free(img);
    img = tf_llama2c(4, 8, 2, 2, 2, 8, 2, 0, &len);
    out(T, "unshared", img, len);
    int32_t bad[7] = {4, 8, 1, 3, 1, 8, 4};  // 4 is not a multiple of 3 heads
    memcpy(img, bad, sizeof bad);
    out(T, "bad_heads", img, len);
    free(img);
    int32_t absurd[7] = {65536, 65536, 1024, 1024, 1024, -16777216, 1048576};
    out(T, "absurd", absurd, sizeof absurd);
}

static void tokenizer_bin(void) {
    const char *T = "fuzz_tokenizer_bin";
    size_t len;
    const char *pieces[] = {"<unk>", "<s>", "</s>", " ", "a", "b", "ab", " ab", "\xc3\xa9"};
    uint8_t *bin = tf_tokenizer_bin(5, pieces, 9, &len);
    out(T, "small", bin, len);
    out(T, "truncated", bin, len - 2);
    int32_t neg = -1;
    memcpy(bin + len - 2 - 4, &neg, 4);  // the last record's length
    out(T, "negative_length", bin, len);
    free(bin);
    const char *extra[] = {"th", "he", "the", " the", "an", "and", " and"};
    bin = tf_tokenizer_llama(extra, 7, &len);
    out(T, "llama_bytes", bin, len);
    free(bin);
    int32_t zero = 0;
    out(T, "max_len_zero", &zero, 4);
    out(T, "empty", "", 0);
}

static void train_config(void) {
    const char *T = "fuzz_train_config";
    out_text(T, "tiny", "# a tiny model\nn_layers = 1\nn_embd = 16\nn_heads = 2\nn_ff = 32\n"
                        "n_ctx = 16\nbatch_size = 2\nsteps = 2\nwarmup = 1\neval_every = 0\n");
    out_text(T, "llama",
             "family = llama\nn_layers = 2\nn_embd = 32\nn_heads = 4\nn_kv_heads = 2\n"
             "n_ff = 64\nvocab_size = 512\nn_ctx = 64\nrope_theta = 500000\n"
             "rope_style = interleaved\ntokenizer = tokenizer.bin\nlr = 3e-4\nmin_lr = 3e-5\n"
             "weight_decay = 0.1\nbeta1 = 0.9\nbeta2 = 0.95\neps = 1e-8\ngrad_clip = 1.0\n"
             "val_fraction = 0.05\neval_batches = 4\nckpt_every = 100\nseed = 42\n"
             "grad_accum = 2\nseq_len = 32\nmax_steps = 1000\nwarmup_steps = 10\n");
    out_text(T, "every_key",
             "family = generic\nnorm = layernorm\npre_norm = false\nfinal_norm = no\n"
             "norm_eps = 1e-6\npos = sinusoidal\nact = geglu\nattn_bias = yes\nmlp_bias = 0\n"
             "bias = true\ntie_embeddings = false\ncausal = false\nbos_id = -1\neos_id = 3\n"
             "head_dim = 8\n");
    out_text(T, "unknown_key", "n_layers = 2\ncolour = blue\n");
    out_text(T, "no_value", "n_layers =\n");
    out_text(T, "no_equals", "n_layers 2\n");
    out(T, "nul_byte", "n_layers = 2\n\0\n", 15);
    out_text(T, "kv_heads", "n_embd = 24\nn_heads = 6\nn_kv_heads = 4\n");
}

static void encode(void) {
    const char *T = "fuzz_encode";
    out_text(T, "ascii", "the quick brown fox and the lazy dog");
    out_text(T, "utf8",
             "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x99\x82 na\xc3\xafve");
    out_text(T, "invalid_utf8", "\xff\xfe \x80\x80 \xc3 \xe6\x97 \xf0\x9f\x99 \xc0\xaf end");
    out(T, "nul_bytes", "a\0b\0\0c", 6);
    out_text(T, "spaces", "   \t\n  the  and   ");
    out_text(T, "byte_tokens_text", "<0x41><s></s><unk>");
    out(T, "empty", "", 0);
}

// fuzz_st_config: the first byte picks the file (0 modules.json, 1 Pooling config, 2
// sentence_bert_config.json).
static void st_config(void) {
    const char *T = "fuzz_st_config";
    static const char *seeds[][2] = {
        {"modules_normalize",
         "\0[{\"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"}, "
         "{\"path\": \"1_Pooling\", \"type\": \"sentence_transformers.models.Pooling\"}, "
         "{\"path\": \"2_Normalize\", \"type\": \"sentence_transformers.models.Normalize\"}]"},
        {"modules_dense",
         "\0[{\"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"}, "
         "{\"path\": \"1_Pooling\", \"type\": \"sentence_transformers.models.Pooling\"}, "
         "{\"path\": \"2_Dense\", \"type\": \"sentence_transformers.models.Dense\"}]"},
        {"modules_escape",
         "\0[{\"path\": \"../..\", \"type\": \"sentence_transformers.models.Transformer\"}, "
         "{\"path\": \"1_Pooling\", \"type\": \"Pooling\"}]"},
        {"modules_not_json", "\0[{\"path\": "},
        {"pooling_max", "\1{\"word_embedding_dimension\": 8, \"pooling_mode_max_tokens\": true, "
                        "\"pooling_mode_mean_tokens\": false}"},
        {"pooling_two", "\1{\"pooling_mode_cls_token\": true, \"pooling_mode_mean_tokens\": true}"},
        {"pooling_none", "\1{\"pooling_mode_cls_token\": false}"},
        {"sbert_lower", "\2{\"max_seq_length\": 128, \"do_lower_case\": true}"},
        {"sbert_null", "\2{\"max_seq_length\": null}"},
        {"sbert_huge", "\2{\"max_seq_length\": 1e300}"},
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        out(T, seeds[i][0], seeds[i][1], 1 + strlen(seeds[i][1] + 1));
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus DIR (e.g. tests/fuzz/corpus)\n");
        return 2;
    }
    g_root = argv[1];
    tf_mkdir(g_root);
    safetensors();
    hf_config();
    llama2c();
    tokenizer_bin();
    train_config();
    encode();
    st_config();
    return 0;
}
