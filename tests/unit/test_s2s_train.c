// Translation training and tokenization pieces (seq2seq.h), each against an independent
// statement of what it must do:
//   schedule    the inverse-square-root values by formula, and the paper's Noam curve;
//   batcher     every batch within its token budget, every pair once per epoch, padding and
//               shifting as stated, the same stream after a restart, a new order per epoch;
//   step        two micro-batches update the weights as one merged batch does (the gradient of
//               the mean over all target tokens), and the reported loss is that mean;
//   averaging   the elementwise mean of the saved models;
//   tokenizer   a trained joint vocabulary: vocab.json in Marian's order, encode/decode round
//               trips, unknown pieces, invalid UTF-8, hostile vocab.json files;
//   guards      the decoder-only entry points refuse an encoder-decoder model.
#include <stdbool.h>
#include <stdlib.h>

#include "../test.h"
#include "cformer/cformer.h"

static cf_ctx *ctx1(void) {
    cf_ctx_params p = cf_ctx_default_params();
    p.n_threads = 1;
    cf_ctx *ctx = NULL;
    CF_CHECK_STATUS(cf_ctx_create(&p, &ctx), CF_OK);
    return ctx;
}

static cf_config tiny_config(int32_t V) {
    cf_config c = cf_config_marian();
    c.n_layers = 1;
    c.n_dec_layers = 1;
    c.n_embd = 16;
    c.n_heads = 2;
    c.n_kv_heads = 2;
    c.head_dim = 0;
    c.n_ff = 32;
    c.vocab_size = V;
    c.n_ctx = 32;
    c.pad_id = V - 1;
    c.decoder_start_id = V - 1;
    c.eos_id = 0;
    return c;
}

static cf_model *tiny_model(cf_ctx *ctx, int32_t V, uint64_t seed) {
    cf_config c = tiny_config(V);
    CF_CHECK_STATUS(cf_config_finish(ctx, &c), CF_OK);
    cf_model *m = NULL;
    CF_CHECK_STATUS(cf_model_create(ctx, &c, seed, &m), CF_OK);
    return m;
}

static void test_schedule(void) {
    // fairseq's inverse_sqrt with a peak: linear warmup, then peak * sqrt(warmup / s).
    CF_CHECK_NEAR(cf_lr_inverse_sqrt(1e-3f, 100, 1), 1e-5, 1e-10);
    CF_CHECK_NEAR(cf_lr_inverse_sqrt(1e-3f, 100, 50), 5e-4, 1e-9);
    CF_CHECK_NEAR(cf_lr_inverse_sqrt(1e-3f, 100, 100), 1e-3, 1e-9);
    CF_CHECK_NEAR(cf_lr_inverse_sqrt(1e-3f, 100, 400), 5e-4, 1e-9);
    CF_CHECK_NEAR(cf_lr_inverse_sqrt(1e-3f, 100, 10000), 1e-4, 1e-10);
    // The paper: d^-0.5 * min(s^-0.5, s * warmup^-1.5), d = 512, warmup = 4000.
    float peak = cf_lr_noam_peak(512, 4000, 1.0f);
    long steps[] = {1, 10, 1000, 3999, 4000, 4001, 20000, 100000};
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        double s = (double)steps[i];
        double want = pow(512.0, -0.5) * fmin(pow(s, -0.5), s * pow(4000.0, -1.5));
        CF_CHECK_NEAR(cf_lr_inverse_sqrt(peak, 4000, steps[i]) / want, 1.0, 1e-6);
    }
    // The trainer follows it (its step argument is 0-based).
    cf_ctx *ctx = ctx1();
    cf_model *m = tiny_model(ctx, 40, 1);
    cf_train_params p = cf_train_default_params();
    p.batch_size = 1;
    p.seq_len = 1;
    p.lr = 2e-3f;
    p.warmup_steps = 10;
    p.schedule = CF_SCHEDULE_INV_SQRT;
    cf_trainer *t = NULL;
    CF_CHECK_STATUS(cf_trainer_create(m, &p, &t), CF_OK);
    CF_CHECK_NEAR(cf_trainer_lr_at(t, 0), 2e-4, 1e-9);
    CF_CHECK_NEAR(cf_trainer_lr_at(t, 9), 2e-3, 1e-9);
    CF_CHECK_NEAR(cf_trainer_lr_at(t, 39), 1e-3, 1e-9);
    cf_trainer_free(t);
    p.schedule = 7;
    CF_CHECK_STATUS(cf_trainer_create(m, &p, &t), CF_ERR_INVALID_ARG);
    cf_model_free(m);
    cf_ctx_free(ctx);
}

// n pairs of random lengths 1..max_len (a few out of range) with ids 1..V-2.
typedef struct pairs {
    int32_t **src, **tgt, *ns, *nt;
    int64_t n;
} pairs;

static uint64_t g_rng = 99;
static uint32_t rnd(uint32_t n) {
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(g_rng >> 33) % n;
}

static pairs make_pairs(int64_t n, int32_t max_len, int32_t V) {
    pairs p = {calloc((size_t)n, sizeof(int32_t *)), calloc((size_t)n, sizeof(int32_t *)),
               calloc((size_t)n, 4), calloc((size_t)n, 4), n};
    for (int64_t i = 0; i < n; i++) {
        p.ns[i] = 1 + (int32_t)rnd((uint32_t)max_len);
        p.nt[i] = 1 + (int32_t)rnd((uint32_t)max_len);
        p.src[i] = malloc((size_t)(p.ns[i] + 40) * 4);
        p.tgt[i] = malloc((size_t)(p.nt[i] + 40) * 4);
        for (int32_t j = 0; j < p.ns[i]; j++) p.src[i][j] = 1 + (int32_t)rnd((uint32_t)V - 2);
        for (int32_t j = 0; j < p.nt[i]; j++) p.tgt[i][j] = 1 + (int32_t)rnd((uint32_t)V - 2);
    }
    return p;
}

static void free_pairs(pairs *p) {
    for (int64_t i = 0; i < p->n; i++) {
        free(p->src[i]);
        free(p->tgt[i]);
    }
    free(p->src);
    free(p->tgt);
    free(p->ns);
    free(p->nt);
}

static void test_batcher(void) {
    cf_ctx *ctx = ctx1();
    const int32_t V = 40;
    cf_model *m = tiny_model(ctx, V, 1);
    pairs p = make_pairs(300, 20, V);
    p.ns[5] = 0;   // empty: left out
    p.nt[7] = 25;  // over max_len 24: left out (ids beyond the 20 written are never read)
    for (int32_t j = 20; j < 25; j++) p.tgt[7][j] = 3;
    cf_s2s_batcher *b = NULL, *b2 = NULL;
    CF_CHECK_STATUS(cf_s2s_batcher_create(m, (const int32_t *const *)p.src, p.ns,
                                          (const int32_t *const *)p.tgt, p.nt, p.n, 100, 24, 5,
                                          &b),
                    CF_OK);
    CF_CHECK_EQ(cf_s2s_batcher_n_skipped(b), 2);
    int64_t nb = cf_s2s_batcher_n_batches(b);
    CF_CHECK(nb > 10);
    int *seen = calloc((size_t)p.n, sizeof(int));
    int64_t idx[64], first_epoch[512];
    for (int64_t k = 0; k < 2 * nb; k++) {
        cf_s2s_batch x;
        CF_CHECK_STATUS(cf_s2s_batcher_get(b, k, &x, idx), CF_OK);
        if (k < nb) first_epoch[k] = idx[0];
        else if (k == nb) {
            // The second epoch visits the batches in another order.
            int same = 0;
            for (int64_t j = 0; j < nb; j++) {
                cf_s2s_batch y;
                int64_t idy[64];
                cf_s2s_batcher_get(b, nb + j, &y, idy);
                same += idy[0] == first_epoch[j];
            }
            CF_CHECK(same < nb / 2);
            cf_s2s_batcher_get(b, k, &x, idx);  // the buffers were reused
        }
        CF_CHECK(x.B == 1 || (int64_t)x.B * (x.S + x.T) <= 100);
        int32_t S = 0, T = 0;
        int64_t ns = 0, nt = 0;
        for (int32_t i = 0; i < x.B; i++) {
            int64_t q = idx[i];
            CF_CHECK(q >= 0 && q < p.n && q != 5 && q != 7);
            if (q < 0 || q >= p.n) continue;
            if (k < nb) seen[q]++;
            S = p.ns[q] > S ? p.ns[q] : S;
            T = p.nt[q] > T ? p.nt[q] : T;
            ns += p.ns[q];
            nt += p.nt[q];
            for (int32_t j = 0; j < x.S; j++) {
                int in = j < p.ns[q];
                CF_CHECK_EQ(x.src_mask[i * x.S + j], in);
                CF_CHECK_EQ(x.src[i * x.S + j], in ? p.src[q][j] : V - 1);
            }
            for (int32_t j = 0; j < x.T; j++) {
                int32_t want_in = j == 0 ? V - 1 : j < p.nt[q] ? p.tgt[q][j - 1] : V - 1;
                CF_CHECK_EQ(x.tgt_in[i * x.T + j], want_in);
                CF_CHECK_EQ(x.labels[i * x.T + j], j < p.nt[q] ? p.tgt[q][j] : -1);
            }
        }
        CF_CHECK_EQ(x.S, S);
        CF_CHECK_EQ(x.T, T);
        CF_CHECK_EQ(x.n_src, ns);
        CF_CHECK_EQ(x.n_tgt, nt);
    }
    for (int64_t q = 0; q < p.n; q++) CF_CHECK_EQ(seen[q], q == 5 || q == 7 ? 0 : 1);
    // A restarted batcher gives batch k as the first did.
    CF_CHECK_STATUS(cf_s2s_batcher_create(m, (const int32_t *const *)p.src, p.ns,
                                          (const int32_t *const *)p.tgt, p.nt, p.n, 100, 24, 5,
                                          &b2),
                    CF_OK);
    for (int64_t k = 3 * nb + 7; k > 0; k -= nb + 3) {
        cf_s2s_batch x, y;
        int64_t i1[64], i2[64];
        cf_s2s_batcher_get(b, k, &x, i1);
        cf_s2s_batcher_get(b2, k, &y, i2);
        CF_CHECK_EQ(x.B, y.B);
        CF_CHECK(x.B == y.B && !memcmp(i1, i2, (size_t)x.B * sizeof(int64_t)));
    }
    // Bad input.
    cf_s2s_batcher *bad = NULL;
    p.src[3][0] = V;
    CF_CHECK_STATUS(cf_s2s_batcher_create(m, (const int32_t *const *)p.src, p.ns,
                                          (const int32_t *const *)p.tgt, p.nt, p.n, 100, 24, 5,
                                          &bad),
                    CF_ERR_RANGE);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "pair 3");
    free(seen);
    cf_s2s_batcher_free(b);
    cf_s2s_batcher_free(b2);
    free_pairs(&p);
    cf_model_free(m);
    cf_ctx_free(ctx);
}

// Copies a batch's arrays (B rows) into a merged batch at row r0 (sizes S, T).
static void put_rows(const cf_s2s_batch *x, int32_t r0, int32_t S, int32_t T, int32_t pad,
                     int32_t *src, uint8_t *mask, int32_t *tin, int32_t *lab) {
    for (int32_t i = 0; i < x->B; i++) {
        for (int32_t j = 0; j < S; j++) {
            bool in = j < x->S && x->src_mask[i * x->S + j];
            src[(r0 + i) * S + j] = in ? x->src[i * x->S + j] : pad;
            mask[(r0 + i) * S + j] = (uint8_t)in;
        }
        for (int32_t j = 0; j < T; j++) {
            bool in = j < x->T && x->labels[i * x->T + j] >= 0;
            tin[(r0 + i) * T + j] = j < x->T ? x->tgt_in[i * x->T + j] : pad;
            lab[(r0 + i) * T + j] = in ? x->labels[i * x->T + j] : -1;
        }
    }
}

static void test_step_merged(void) {
    cf_ctx *ctx = ctx1();
    const int32_t V = 30;
    pairs p = make_pairs(40, 9, V);
    cf_model *m1 = tiny_model(ctx, V, 3), *m2 = tiny_model(ctx, V, 3);
    cf_s2s_batcher *b = NULL;
    CF_CHECK_STATUS(cf_s2s_batcher_create(m1, (const int32_t *const *)p.src, p.ns,
                                          (const int32_t *const *)p.tgt, p.nt, p.n, 120, 32, 1,
                                          &b),
                    CF_OK);
    // Two micro-batches (copied out: the batcher reuses its buffers).
    cf_s2s_batch x[2];
    int32_t *bufs[8];
    for (int a = 0; a < 2; a++) {
        cf_s2s_batch y;
        cf_s2s_batcher_get(b, a, &y, NULL);
        size_t ns = (size_t)y.B * (size_t)y.S, nt = (size_t)y.B * (size_t)y.T;
        bufs[4 * a] = malloc(ns * 4);
        bufs[4 * a + 1] = malloc(ns);
        bufs[4 * a + 2] = malloc(nt * 4);
        bufs[4 * a + 3] = malloc(nt * 4);
        memcpy(bufs[4 * a], y.src, ns * 4);
        memcpy(bufs[4 * a + 1], y.src_mask, ns);
        memcpy(bufs[4 * a + 2], y.tgt_in, nt * 4);
        memcpy(bufs[4 * a + 3], y.labels, nt * 4);
        x[a] = y;
        x[a].src = bufs[4 * a];
        x[a].src_mask = (const uint8_t *)bufs[4 * a + 1];
        x[a].tgt_in = bufs[4 * a + 2];
        x[a].labels = bufs[4 * a + 3];
    }
    CF_CHECK(x[0].B != x[1].B || x[0].T != x[1].T || x[0].S != x[1].S);
    // The merged batch, padded to the larger shape.
    int32_t B = x[0].B + x[1].B, S = x[0].S > x[1].S ? x[0].S : x[1].S;
    int32_t T = x[0].T > x[1].T ? x[0].T : x[1].T;
    int32_t *src = malloc((size_t)B * S * 4), *tin = malloc((size_t)B * T * 4);
    int32_t *lab = malloc((size_t)B * T * 4);
    uint8_t *mask = malloc((size_t)B * S);
    put_rows(&x[0], 0, S, T, V - 1, src, mask, tin, lab);
    put_rows(&x[1], x[0].B, S, T, V - 1, src, mask, tin, lab);
    cf_s2s_batch merged = {B, S, T, src, mask, tin, lab, 0, 0};
    // The reported loss: the mean over all target tokens.
    float l0, l1;
    CF_CHECK_STATUS(cf_s2s_loss(m1, x[0].src, x[0].src_mask, x[0].B, x[0].S, x[0].tgt_in,
                                x[0].labels, x[0].T, 0.1f, &l0), CF_OK);
    CF_CHECK_STATUS(cf_s2s_loss(m1, x[1].src, x[1].src_mask, x[1].B, x[1].S, x[1].tgt_in,
                                x[1].labels, x[1].T, 0.1f, &l1), CF_OK);
    double want = ((double)l0 * (double)x[0].n_tgt + (double)l1 * (double)x[1].n_tgt) /
                  (double)(x[0].n_tgt + x[1].n_tgt);
    cf_train_params tp = cf_train_default_params();
    tp.batch_size = 1;
    tp.seq_len = 1;
    tp.lr = 1e-2f;
    tp.warmup_steps = 0;
    tp.schedule = CF_SCHEDULE_INV_SQRT;
    tp.grad_clip = 0.0f;
    cf_trainer *t1 = NULL, *t2 = NULL;
    CF_CHECK_STATUS(cf_trainer_create(m1, &tp, &t1), CF_OK);
    CF_CHECK_STATUS(cf_trainer_create(m2, &tp, &t2), CF_OK);
    cf_step_stats s1, s2;
    CF_CHECK_STATUS(cf_trainer_step_s2s(t1, x, 2, 0.1f, &s1), CF_OK);
    CF_CHECK_STATUS(cf_trainer_step_s2s(t2, &merged, 1, 0.1f, &s2), CF_OK);
    CF_CHECK_NEAR(s1.loss, want, 1e-5);
    CF_CHECK_NEAR(s2.loss, want, 1e-5);
    CF_CHECK_NEAR(s1.grad_norm, s2.grad_norm, 1e-4 * s2.grad_norm);
    CF_CHECK_EQ(s1.tokens, x[0].n_src + x[0].n_tgt + x[1].n_src + x[1].n_tgt);
    // The same update: the models give the same loss afterwards, and a lower one.
    float a1, a2;
    cf_s2s_loss(m1, src, mask, B, S, tin, lab, T, 0.1f, &a1);
    cf_s2s_loss(m2, src, mask, B, S, tin, lab, T, 0.1f, &a2);
    CF_CHECK_NEAR(a1, a2, 1e-5);
    CF_CHECK(a1 < want);
    // Bad input: a label out of range.
    lab[0] = V;
    CF_CHECK_STATUS(cf_trainer_step_s2s(t2, &merged, 1, 0.1f, &s2), CF_ERR_RANGE);
    CF_CHECK_STATUS(cf_trainer_step_s2s(t2, &merged, 1, 1.0f, &s2), CF_ERR_INVALID_ARG);
    cf_trainer_free(t1);
    cf_trainer_free(t2);
    cf_model_free(m1);
    cf_model_free(m2);
    cf_s2s_batcher_free(b);
    for (int i = 0; i < 8; i++) free(bufs[i]);
    free(src);
    free(tin);
    free(lab);
    free(mask);
    free_pairs(&p);
    cf_ctx_free(ctx);
}

static void test_average(void) {
    cf_ctx *ctx = ctx1();
    const int32_t V = 40;
    char dirs[3][512];
    cf_model *ms[3];
    for (int i = 0; i < 3; i++) {
        ms[i] = tiny_model(ctx, V, 10 + (uint64_t)i);
        snprintf(dirs[i], sizeof dirs[i], "%s/m%d", cf_test_tmpdir(), i);
        CF_CHECK_STATUS(cf_model_save(ms[i], dirs[i]), CF_OK);
    }
    const char *paths[3] = {dirs[0], dirs[1], dirs[2]};
    cf_model *avg = NULL;
    CF_CHECK_STATUS(cf_model_average(ctx, paths, 3, &avg), CF_OK);
    // Elementwise, through the saved files: the same writer and config give the same header,
    // so the float data of the four files line up.
    char out[512];
    snprintf(out, sizeof out, "%s/avg", cf_test_tmpdir());
    CF_CHECK_STATUS(cf_model_save(avg, out), CF_OK);
    char f[4][2048];
    for (int i = 0; i < 3; i++) snprintf(f[i], sizeof f[i], "%s/model.safetensors", dirs[i]);
    snprintf(f[3], sizeof f[3], "%s/model.safetensors", out);
    size_t len[4] = {0};
    unsigned char *data[4];
    for (int i = 0; i < 4; i++) {
        FILE *fp = fopen(f[i], "rb");
        fseek(fp, 0, SEEK_END);
        len[i] = (size_t)ftell(fp);
        fseek(fp, 0, SEEK_SET);
        data[i] = malloc(len[i]);
        CF_CHECK(fread(data[i], 1, len[i], fp) == len[i]);
        fclose(fp);
    }
    CF_CHECK(len[0] == len[3] && len[1] == len[3] && len[2] == len[3]);
    uint64_t hdr;
    memcpy(&hdr, data[0], 8);
    CF_CHECK(!memcmp(data[0], data[3], 8 + (size_t)hdr));
    size_t off = 8 + (size_t)hdr, nf = (len[3] - off) / 4;
    int64_t bad = 0;
    double maxd = 0;
    for (size_t i = 0; i < nf; i++) {
        float x[4];
        for (int k = 0; k < 4; k++) memcpy(&x[k], data[k] + off + 4 * i, 4);
        double mean = ((double)x[0] + x[1] + x[2]) / 3.0, d = fabs(mean - x[3]);
        if (d > maxd) maxd = d;
        bad += d > 1e-7 + 1e-6 * fabs(mean);
    }
    CF_CHECK_EQ(bad, 0);
    if (cf_test_verbose) fprintf(stderr, "  average: max |diff| %.3g over %zu floats\n", maxd, nf);
    // Two runs of different shapes do not average.
    cf_config c = tiny_config(V);
    c.n_ff = 48;
    CF_CHECK_STATUS(cf_config_finish(ctx, &c), CF_OK);
    cf_model *other = NULL;
    CF_CHECK_STATUS(cf_model_create(ctx, &c, 1, &other), CF_OK);
    snprintf(dirs[2], sizeof dirs[2], "%s/other", cf_test_tmpdir());
    CF_CHECK_STATUS(cf_model_save(other, dirs[2]), CF_OK);
    cf_model *bad_avg = NULL;
    CF_CHECK_STATUS(cf_model_average(ctx, paths, 3, &bad_avg), CF_ERR_INVALID_ARG);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "differs");
    cf_model_free(other);
    for (int i = 0; i < 4; i++) free(data[i]);
    for (int i = 0; i < 3; i++) cf_model_free(ms[i]);
    cf_model_free(avg);
    cf_ctx_free(ctx);
}

static const char *WORDS[] = {"the", "dog", "cat", "runs", "sleeps", "in", "a", "red",
                              "house", "garden", "big", "small", "man", "woman", "sees",
                              "der", "Hund", "die", "Katze", "läuft", "schläft", "im", "Haus"};

static char *corpus(int n_lines, size_t *len) {
    size_t cap = (size_t)n_lines * 80, n = 0;
    char *t = malloc(cap);
    for (int i = 0; i < n_lines; i++) {
        int words = 2 + (int)rnd(7);
        for (int w = 0; w < words; w++)
            n += (size_t)snprintf(t + n, cap - n, "%s%s", w ? " " : "",
                                  WORDS[rnd(sizeof WORDS / sizeof *WORDS)]);
        t[n++] = '\n';
    }
    *len = n;
    return t;
}


static void test_tokenizer(void) {
    cf_ctx *ctx = ctx1();
    char dir[512];
    snprintf(dir, sizeof dir, "%s/tok", cf_test_tmpdir());
    size_t len;
    char *text = corpus(400, &len);
    int32_t nv = 0;
    CF_CHECK_STATUS(cf_s2s_vocab_train(ctx, text, len, 300, dir, &nv), CF_OK);
    CF_CHECK(nv > 20 && nv <= 300);
    cf_s2s_tokenizer *t = NULL;
    CF_CHECK_STATUS(cf_s2s_tokenizer_load(ctx, dir, 0, &t), CF_OK);
    if (!t) goto out;
    CF_CHECK_EQ(cf_s2s_tokenizer_vocab_size(t), nv);
    CF_CHECK_EQ(cf_s2s_tokenizer_eos(t), 0);
    CF_CHECK_EQ(cf_s2s_tokenizer_unk(t), 1);
    CF_CHECK_EQ(cf_s2s_tokenizer_pad(t), nv - 1);
    // The SentencePiece file is a proper model: its pieces are vocab.json's, in order.
    char spm[600];
    snprintf(spm, sizeof spm, "%s/source.spm", dir);
    cf_tokenizer *sp = NULL;
    CF_CHECK_STATUS(cf_tokenizer_load(ctx, spm, 0, &sp), CF_OK);
    if (sp) {
        CF_CHECK_STR_CONTAINS(cf_tokenizer_kind(sp), "sentencepiece");
        CF_CHECK_EQ(cf_tokenizer_vocab_size(sp), nv);
        CF_CHECK_STR_CONTAINS(cf_tokenizer_id_to_piece(sp, 2), "</s>");
    }
    // Round trips of lines of the corpus, and of a sentence with an unseen character.
    int32_t ids[256];
    int64_t n;
    char buf[1024];
    size_t nb;
    const char *lines[] = {"the dog runs in a red house", "die Katze schläft im Haus",
                           "a big man sees the small woman"};
    for (int i = 0; i < 3; i++) {
        CF_CHECK_STATUS(cf_s2s_tokenizer_encode(t, CF_S2S_SOURCE, lines[i], strlen(lines[i]), ids,
                                                256, &n), CF_OK);
        CF_CHECK(n >= 2 && ids[n - 1] == 0);
        for (int64_t j = 0; j + 1 < n; j++) CF_CHECK(ids[j] > 1 && ids[j] < nv - 1);
        CF_CHECK_STATUS(cf_s2s_tokenizer_decode(t, ids, n, buf, sizeof buf, &nb), CF_OK);
        CF_CHECK(nb == strlen(lines[i]) && !memcmp(buf, lines[i], nb));
        if (sp) {  // the ids are the spm's pieces through vocab.json
            int32_t sids[256];
            int64_t sn;
            CF_CHECK_STATUS(cf_tokenizer_encode(sp, lines[i], strlen(lines[i]), 0, sids, 256, &sn),
                            CF_OK);
            CF_CHECK_EQ(sn + 1, n);
            for (int64_t j = 0; j < sn && j + 1 < n; j++) CF_CHECK_EQ(ids[j], sids[j] - 1);
        }
    }
    const char *odd = "the \xe2\x98\x83 dog";  // a snowman: not in the vocabulary
    CF_CHECK_STATUS(cf_s2s_tokenizer_encode(t, CF_S2S_TARGET, odd, strlen(odd), ids, 256, &n),
                    CF_OK);
    int unk = 0;
    for (int64_t j = 0; j < n; j++) unk += ids[j] == 1;
    CF_CHECK(unk >= 1);
    CF_CHECK_STATUS(cf_s2s_tokenizer_decode(t, ids, n, buf, sizeof buf, &nb), CF_OK);
    buf[nb] = 0;
    CF_CHECK_STR_CONTAINS(buf, "the");
    CF_CHECK_STR_CONTAINS(buf, "dog");
    // Invalid UTF-8 and empty text do not fail; a small buffer asks for more.
    const char bad[] = "dog \xff\xfe cat \xc3";
    CF_CHECK_STATUS(cf_s2s_tokenizer_encode(t, CF_S2S_SOURCE, bad, sizeof bad - 1, ids, 256, &n),
                    CF_OK);
    CF_CHECK_STATUS(cf_s2s_tokenizer_encode(t, CF_S2S_SOURCE, "", 0, ids, 256, &n), CF_OK);
    CF_CHECK_EQ(n, 1);
    CF_CHECK_STATUS(cf_s2s_tokenizer_encode(t, CF_S2S_SOURCE, lines[0], strlen(lines[0]), ids, 2,
                                            &n), CF_ERR_RANGE);
    CF_CHECK(n > 2);
    ids[0] = nv;
    CF_CHECK_STATUS(cf_s2s_tokenizer_decode(t, ids, 1, buf, sizeof buf, &nb), CF_ERR_RANGE);
    // A model smaller than vocab.json's ids is refused.
    cf_s2s_tokenizer *t2 = NULL;
    CF_CHECK_STATUS(cf_s2s_tokenizer_load(ctx, dir, nv - 5, &t2), CF_ERR_FORMAT);
    // Hostile vocab.json files.
    struct {
        const char *json, *msg;
    } cases[] = {
        {"[1, 2]", "not a JSON object"},
        {"{\"</s>\": 0, \"<unk>\": 1.5}", "<unk>"},
        {"{\"</s>\": 0, \"<unk>\": -1}", "<unk>"},
        {"{\"</s>\": 0, \"<unk>\": \"1\"}", "not a number"},
        {"{\"</s>\": 0, \"<unk>\": 0}", "both"},
        {"{\"</s>\": 0, \"x\": 1}", "<unk>"},
        {"{}", "empty"},
        {"{\"</s>\": 0, \"<unk>\": 99999999999}", "out of range"},
        {"{\"</s>\": 0,", "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cf_test_put(dir, "vocab.json", cases[i].json);
        CF_CHECK_STATUS(cf_s2s_tokenizer_load(ctx, dir, 0, &t2), CF_ERR_FORMAT);
        CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), cases[i].msg);
        CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "vocab.json");
    }
    char gone[600];
    snprintf(gone, sizeof gone, "%s/source.spm", dir);
    remove(gone);
    CF_CHECK_STATUS(cf_s2s_tokenizer_load(ctx, dir, 0, &t2), CF_ERR_IO);
    CF_CHECK_STATUS(cf_s2s_vocab_train(ctx, text, len, 10, dir, &nv), CF_ERR_INVALID_ARG);
    cf_tokenizer_free(sp);
    cf_s2s_tokenizer_free(t);
out:
    free(text);
    cf_ctx_free(ctx);
}

static void test_guards(void) {
    cf_ctx *ctx = ctx1();
    cf_model *m = tiny_model(ctx, 40, 1);
    int32_t tok[4] = {1, 2, 3, 4};
    float *logits = malloc(4 * 40 * sizeof(float));
    CF_CHECK_STATUS(cf_model_forward(m, tok, 1, 4, logits), CF_ERR_INVALID_ARG);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "seq2seq");
    cf_session *s = NULL;
    CF_CHECK_STATUS(cf_session_create(m, 0, 0, &s), CF_ERR_INVALID_ARG);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "seq2seq");
    cf_train_params p = cf_train_default_params();
    p.batch_size = 1;
    p.seq_len = 4;
    cf_trainer *t = NULL;
    CF_CHECK_STATUS(cf_trainer_create(m, &p, &t), CF_OK);  // the seq2seq step uses it
    int32_t data[64];
    for (int i = 0; i < 64; i++) data[i] = i % 40;
    CF_CHECK_STATUS(cf_trainer_set_data(t, data, 64), CF_ERR_INVALID_ARG);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "seq2seq");
    cf_step_stats st;
    int32_t rows[5] = {1, 2, 3, 4, 5};
    CF_CHECK_STATUS(cf_trainer_step_on(t, rows, &st), CF_ERR_INVALID_ARG);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "seq2seq");
    cf_trainer_free(t);
    free(logits);
    cf_model_free(m);
    cf_ctx_free(ctx);
}

const cf_test tests_s2s_train[] = {
    {"s2s-train/schedule", test_schedule},
    {"s2s-train/batcher", test_batcher},
    {"s2s-train/step-merged", test_step_merged},
    {"s2s-train/average", test_average},
    {"s2s-train/tokenizer", test_tokenizer},
    {"s2s-train/guards", test_guards},
    {NULL, NULL},
};
