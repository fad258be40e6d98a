// Tokenizer parity: cformer against the reference implementations, on the hard-text corpus.
// tools/gen_tokenizer_refs.py writes tests/fixtures/tokenizers/corpus.json (every Unicode
// category, emoji and ZWJ sequences, combining marks, CJK, RTL scripts, control characters,
// long whitespace runs, invalid UTF-8, very long words, the empty string, and text pairs) and
// refs/<name>.json: for every string, the ids the reference gives with and without special
// tokens, the type ids, the offsets, and the decoded text (Hugging Face tokenizers through
// node for tokenizer.json, GPT-2 and BERT files; python sentencepiece for .model files).
// Every one must match exactly. No Python or node at run time. (The norm_* tokenizers have ids
// that are the bytes of the normalized text: they compare the normalizers themselves.)
// `gen_tokenizer_refs.py --sweep DIR` writes the same tests over every assigned code point,
// run with CF_FIXTURES=DIR.
//
// Offsets: the Hugging Face reference reports character offsets (of the text as the library
// saw it, invalid UTF-8 replaced); cformer reports byte offsets of the caller's text, which
// are converted here with the library's own byte-to-char rule before comparing.
// SentencePiece offsets are bytes on both sides.
//
// Vocabularies that cannot be committed (GPT-2, bert-base-uncased) come from the cache that
// tools/fetch_tokenizer_vocabs.sh fills (CF_TOKENIZER_CACHE, default
// ~/.cache/cformer/tokenizers); without it those tests print SKIPPED and pass. The shared
// read-only vocabularies are checked when CF_TOKENIZER_SHARED names their folder.
#include <cJSON.h>
#include <stdlib.h>

#include "../../src/tokenizers/tokenizer_internal.h"  // defines: cf__utf8_next
#include "../test.h"

#define REFS_VERSION 2

typedef struct bytes {
    char *p;
    size_t n;
} bytes;

static bytes unhex(const char *h) {
    bytes b = {NULL, 0};
    size_t n = strlen(h) / 2;
    b.p = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        b.p[i] = (char)v;
    }
    b.n = n;
    return b;
}

static cJSON *read_json(cf_ctx *ctx, const char *path) {
    char *data;
    size_t n;
    if (cf__file_read(ctx, path, (size_t)1 << 30, &data, &n) != CF_OK) return NULL;
    cJSON *j = cJSON_ParseWithLength(data, n);
    cf__free(data);
    return j;
}

// The library's BytesToCharOffsetConverter on the text as it saw it: every valid character and
// every maximal invalid subpart is one character.
// (The library converts before ByteLevel trims offsets; a span trimmed to the end of the text
// is (length, length) in characters then, so that is what it becomes here.)
static void to_chars(const char *text, size_t len, int64_t *s, int64_t *e) {
    int64_t *map = malloc((len + 1) * sizeof(int64_t));
    int64_t ch = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int l = cf__utf8_next((const uint8_t *)text + i, len - i, &cp);
        if (!l) l = cf__utf8_invalid_len((const uint8_t *)text + i, len - i);
        for (int k = 0; k < l; k++) map[i + (size_t)k] = ch;
        i += (size_t)l;
        ch++;
    }
    if (*s >= (int64_t)len) {
        *s = *e = ch;
        free(map);
        return;
    }
    int64_t start = map[*s], end;
    if (*e < (int64_t)len) end = map[*e];
    else end = (*e >= 1 ? map[*e - 1] : start) + 1;
    *s = start;
    *e = end;
    free(map);
}

static const char *resolve(const char *ref, char *buf, size_t cap, const char **skip) {
    *skip = NULL;
    if (!strncmp(ref, "fixtures:", 9)) {
        snprintf(buf, cap, "%s/%s", cf_test_fixture("tokenizers"), ref + 9);
        return buf;
    }
    if (!strncmp(ref, "cache:", 6)) {
        const char *dir = getenv("CF_TOKENIZER_CACHE");
        char home[512];
        if (!dir) {
            const char *h = getenv("HOME");
            snprintf(home, sizeof home, "%.400s/.cache/cformer/tokenizers", h ? h : ".");
            dir = home;
        }
        if (!strcmp(ref + 6, "gpt2")) snprintf(buf, cap, "%.900s/encoder.json", dir);
        else snprintf(buf, cap, "%.900s/%.100s", dir, ref + 6);
        if (!cf__file_exists(buf)) *skip = "not in the cache: run sh tools/fetch_tokenizer_vocabs.sh";
        return buf;
    }
    if (!strncmp(ref, "shared:", 7)) {
        const char *dir = getenv("CF_TOKENIZER_SHARED");
        if (!dir) {
            *skip = "CF_TOKENIZER_SHARED is not set";
            return NULL;
        }
        snprintf(buf, cap, "%.900s/%.100s", dir, ref + 7);
        if (!cf__file_exists(buf)) *skip = "not in CF_TOKENIZER_SHARED";
        return buf;
    }
    *skip = "unknown tokenizer reference";
    return NULL;
}

static bool ints_equal(const cJSON *arr, const int64_t *v, int64_t n) {
    if (cJSON_GetArraySize(arr) != n) return false;
    int64_t i = 0;
    for (const cJSON *x = arr->child; x; x = x->next, i++)
        if ((int64_t)x->valuedouble != v[i]) return false;
    return true;
}

// Prints both lists from a little before their first difference.
static void print_ints(const char *what, const cJSON *want, const int64_t *got, int64_t n) {
    int64_t nw = cJSON_GetArraySize(want), first = 0;
    const cJSON *x = want->child;
    while (first < nw && first < n && (int64_t)x->valuedouble == got[first]) {
        x = x->next;
        first++;
    }
    int64_t from = first > 6 ? first - 6 : 0;
    fprintf(stderr, "      %s (lengths %lld, %lld; first difference at %lld) want [%s", what,
            (long long)nw, (long long)n, (long long)first, from ? "... " : "");
    x = want->child;
    for (int64_t i = 0; x && i < from + 20; x = x->next, i++)
        if (i >= from) fprintf(stderr, "%s%lld", i > from ? " " : "", (long long)x->valuedouble);
    fprintf(stderr, "]\n      %s got  [%s", what, from ? "... " : "");
    for (int64_t i = from; i < n && i < from + 20; i++)
        fprintf(stderr, "%s%lld", i > from ? " " : "", (long long)got[i]);
    fprintf(stderr, "]\n");
}

static void print_text(const char *what, const char *s, size_t n) {
    fprintf(stderr, "      %s: \"", what);
    for (size_t i = 0; i < n && i < 80; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 32 && c < 127 && c != '"' && c != '\\') fputc(c, stderr);
        else fprintf(stderr, "\\x%02x", c);
    }
    fprintf(stderr, "%s\"\n", n > 80 ? "..." : "");
}

// Runs the reference file refs/<name>.json, with the tokenizer it names or, when tok is not
// NULL, another one that must give the same results (the generator checked that).
static void run_refs_with(const char *name, const char *tok_override) {
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(NULL, &ctx), CF_OK);
    char path[1024];
    snprintf(path, sizeof path, "%s/refs/%s.json", cf_test_fixture("tokenizers"), name);
    cJSON *refs = read_json(ctx, path);
    snprintf(path, sizeof path, "%s/corpus.json", cf_test_fixture("tokenizers"));
    cJSON *corpus = read_json(ctx, path);
    if (!refs || !corpus) {
        fprintf(stderr, "  %s: fixture missing (run /usr/bin/python3 tools/gen_tokenizer_refs.py)\n",
                name);
        cf_test_failures++;
        goto out;
    }
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(refs, "version");
    if (!cJSON_IsNumber(ver) || ver->valueint != REFS_VERSION) {
        fprintf(stderr, "  %s: not a version %d reference file\n", name, REFS_VERSION);
        cf_test_failures++;
        goto out;
    }
    const char *ref = tok_override ? tok_override
                                   : cJSON_GetObjectItemCaseSensitive(refs, "tokenizer")->valuestring;
    char tpath[1024];
    const char *skip;
    const char *tp = resolve(ref, tpath, sizeof tpath, &skip);
    if (skip) {
        fprintf(stderr, "  SKIPPED %s (%s): %s\n", name, ref, skip);
        goto out;
    }
    cf_tokenizer *tok = NULL;
    if (cf_tokenizer_load(ctx, tp, 0, &tok) != CF_OK) {
        fprintf(stderr, "  %s: cf_tokenizer_load(%s): %s\n", name, tp, cf_errmsg(ctx));
        cf_test_failures++;
        goto out;
    }
    bool chars = !strcmp(cJSON_GetObjectItemCaseSensitive(refs, "offsets")->valuestring, "chars");
    const cJSON *vs = cJSON_GetObjectItemCaseSensitive(refs, "vocab_size");
    if (chars && vs->valueint != cf_tokenizer_vocab_size(tok)) {
        fprintf(stderr, "  %s: vocabulary size %d, the reference %d\n", name,
                cf_tokenizer_vocab_size(tok), vs->valueint);
        cf_test_failures++;
    }
    int n_texts = cJSON_GetObjectItemCaseSensitive(refs, "n_texts")->valueint;
    const cJSON *texts = cJSON_GetObjectItemCaseSensitive(corpus, "texts");
    const cJSON *pairs = cJSON_GetObjectItemCaseSensitive(corpus, "pairs");
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(refs, "cases");
    int64_t n_ids = 0;
    int bad_ids = 0, bad_nosp = 0, bad_types = 0, bad_offsets = 0, bad_dec = 0, bad_skip = 0;
    int printed = 0, idx = 0;
    const cJSON *tx = texts->child, *px = pairs->child;
    for (const cJSON *c = cases->child; c; c = c->next, idx++) {
        bytes a, b = {NULL, 0};
        bool is_pair = idx >= n_texts;
        if (!is_pair) {
            a = unhex(tx->valuestring);
            tx = tx->next;
        } else {
            a = unhex(px->child->valuestring);
            b = unhex(px->child->next->valuestring);
            px = px->next;
        }
        const cJSON *w_ids = cJSON_GetObjectItemCaseSensitive(c, "ids");
        // Left out of the file when equal to ids / all zero / equal to decoded.
        const cJSON *w_nosp = cJSON_GetObjectItemCaseSensitive(c, "ids_nosp");
        if (!w_nosp) w_nosp = w_ids;
        const cJSON *w_types = cJSON_GetObjectItemCaseSensitive(c, "type_ids");
        const cJSON *w_offs = cJSON_GetObjectItemCaseSensitive(c, "offsets");
        int64_t cap = (int64_t)(a.n + b.n) * 4 + 16, n = 0, n2 = 0;
        cf_token *t1 = malloc((size_t)cap * sizeof(cf_token));
        cf_token *t2 = malloc((size_t)cap * sizeof(cf_token));
        int64_t *ids = malloc((size_t)cap * sizeof(int64_t)), *v = malloc((size_t)cap * 2 * sizeof(int64_t));
        // Normalizers may expand text (NFKC of U+FDFA is 18 characters): grow on CF_ERR_RANGE.
        for (;;) {
            cf_status s1 = cf_tokenizer_encode_tokens(tok, a.p, a.n, is_pair ? b.p : NULL, b.n, 1,
                                                      t1, cap, &n);
            cf_status s2 = cf_tokenizer_encode_tokens(tok, a.p, a.n, is_pair ? b.p : NULL, b.n, 0,
                                                      t2, cap, &n2);
            if ((s1 == CF_ERR_RANGE || s2 == CF_ERR_RANGE) && (n > cap || n2 > cap)) {
                cap = (n > n2 ? n : n2) + 16;
                t1 = realloc(t1, (size_t)cap * sizeof(cf_token));
                t2 = realloc(t2, (size_t)cap * sizeof(cf_token));
                ids = realloc(ids, (size_t)cap * sizeof(int64_t));
                v = realloc(v, (size_t)cap * 2 * sizeof(int64_t));
                continue;
            }
            CF_CHECK_STATUS(s1, CF_OK);
            CF_CHECK_STATUS(s2, CF_OK);
            break;
        }
        n_ids += n;
        bool fail = false;
        for (int64_t i = 0; i < n; i++) ids[i] = t1[i].id;
        if (!ints_equal(w_ids, ids, n)) {
            bad_ids++;
            fail = true;
            if (printed < 6) print_ints("ids", w_ids, ids, n);
        }
        for (int64_t i = 0; i < n2; i++) v[i] = t2[i].id;
        if (!ints_equal(w_nosp, v, n2)) {
            bad_nosp++;
            if (!fail && printed < 6) print_ints("ids without special tokens", w_nosp, v, n2);
            fail = true;
        }
        {
            bool ok_types = true;
            for (int64_t i = 0; i < n; i++) v[i] = t1[i].type_id;
            if (w_types) ok_types = ints_equal(w_types, v, n);
            else if (chars)
                for (int64_t i = 0; i < n; i++) ok_types &= v[i] == 0;
            if (!ok_types) {
                bad_types++;
                if (!fail && printed < 6 && w_types) print_ints("type ids", w_types, v, n);
                fail = true;
            }
        }
        // Offsets: of the encoding with special tokens (HF), without (SentencePiece).
        const cf_token *ot = chars ? t1 : t2;
        int64_t on = chars ? n : n2;
        for (int64_t i = 0; i < on; i++) {
            int64_t s = ot[i].start, e = ot[i].end;
            if (chars && ot[i].seq >= 0) {
                const bytes *src = ot[i].seq == 1 ? &b : &a;
                to_chars(src->p, src->n, &s, &e);
            }
            v[2 * i] = s;
            v[2 * i + 1] = e;
        }
        if (!ints_equal(w_offs, v, 2 * on)) {
            bad_offsets++;
            if (!fail && printed < 6) print_ints("offsets", w_offs, v, 2 * on);
            fail = true;
        }
        // Decoding.
        const char *keys[2] = {"decoded", "decoded_skip"};
        for (int k = 0; k < 2; k++) {
            const cJSON *wd = cJSON_GetObjectItemCaseSensitive(c, keys[k]);
            if (!wd) wd = cJSON_GetObjectItemCaseSensitive(c, "decoded");
            bytes want = unhex(wd->valuestring);
            const cf_token *src = k == 0 ? t2 : t1;
            int64_t sn = k == 0 ? n2 : n;
            int32_t *d_ids = malloc((size_t)(sn + 1) * sizeof(int32_t));
            for (int64_t i = 0; i < sn; i++) d_ids[i] = src[i].id;
            size_t cap_d = a.n * 8 + b.n * 8 + 256, got_n = 0;
            char *got = malloc(cap_d);
            cf_status st = cf_tokenizer_decode(tok, d_ids, sn, k, got, cap_d, &got_n);
            if (st == CF_ERR_RANGE && got_n > cap_d) {
                cap_d = got_n;
                got = realloc(got, cap_d);
                st = cf_tokenizer_decode(tok, d_ids, sn, k, got, cap_d, &got_n);
            }
            if (st != CF_OK || got_n != want.n || memcmp(got, want.p, want.n)) {
                if (k == 0) bad_dec++;
                else bad_skip++;
                if (!fail && printed < 6) {
                    print_text(k ? "decoded (skip special) want" : "decoded want", want.p, want.n);
                    print_text(k ? "decoded (skip special) got " : "decoded got ", got, got_n);
                }
                fail = true;
            }
            free(got);
            free(d_ids);
            free(want.p);
        }
        if (fail && getenv("CF_TOKENIZER_LIST_FAILS")) fprintf(stderr, "FAILIDX %d\n", idx);
        if (fail && printed < 6) {
            fprintf(stderr, "    %s: string %d differs\n", name, idx);
            print_text("text", a.p, a.n);
            printed++;
        }
        free(t1);
        free(t2);
        free(ids);
        free(v);
        free(a.p);
        free(b.p);
    }
    int total = bad_ids + bad_nosp + bad_types + bad_offsets + bad_dec + bad_skip;
    if (total) {
        fprintf(stderr, "  %s: %d strings: ids %d, ids without specials %d, type ids %d, offsets "
                "%d, decoded %d, decoded skipping specials %d differ\n", name, idx, bad_ids,
                bad_nosp, bad_types, bad_offsets, bad_dec, bad_skip);
        cf_test_failures++;
    } else if (cf_test_verbose) {
        fprintf(stderr, "  %s: %d strings, %lld ids, offsets and decoded text identical\n", name,
                idx, (long long)n_ids);
    }
    cf_tokenizer_free(tok);
out:
    cJSON_Delete(refs);
    cJSON_Delete(corpus);
    cf_ctx_free(ctx);
}

static void run_refs(const char *name) { run_refs_with(name, NULL); }

static void test_bpe_gpt2(void) { run_refs("bpe_gpt2"); }
static void test_bpe_roberta(void) { run_refs("bpe_roberta"); }
static void test_bpe_llama3(void) { run_refs("bpe_llama3"); }
static void test_wordpiece_uncased(void) { run_refs("wordpiece_uncased"); }
static void test_wordpiece_cased(void) { run_refs("wordpiece_cased"); }
static void test_wordpiece_uncased_txt(void) {
    run_refs_with("wordpiece_uncased", "fixtures:wordpiece_uncased_vocab.txt");
}
static void test_wordpiece_cased_txt(void) {
    run_refs_with("wordpiece_cased", "fixtures:wordpiece_cased_vocab.txt");
}
static void test_t5_unigram(void) { run_refs("t5_unigram"); }
static void test_llama_bpe(void) { run_refs("llama_bpe"); }
static void test_llama_metaspace(void) { run_refs("llama_metaspace"); }
static void test_spm_unigram(void) { run_refs("spm_unigram"); }
static void test_spm_bpe(void) { run_refs("spm_bpe_bytefallback"); }
static void test_norm_nfc(void) { run_refs("norm_nfc"); }
static void test_norm_nfkc(void) { run_refs("norm_nfkc"); }
static void test_norm_nfkd_strip_lower(void) { run_refs("norm_nfkd_strip_lower"); }
static void test_norm_nmt_strip(void) { run_refs("norm_nmt_strip"); }
static void test_trained_bpe(void) { run_refs("trained_bpe"); }
static void test_trained_unigram(void) { run_refs("trained_unigram"); }
static void test_gpt2(void) { run_refs("gpt2"); }
static void test_bert(void) { run_refs("bert_base_uncased"); }
static void test_shared_gpt2(void) { run_refs("shared_gpt2_json"); }
static void test_shared_bert(void) {
    run_refs_with("bert_base_uncased", "shared:bert-base-uncased.tokenizer.json");
}
static void test_shared_spm(void) { run_refs("shared_spm_test_model"); }

const cf_test tests_tokenizer_golden[] = {
    {"golden/tokenizer/bpe_gpt2", test_bpe_gpt2},
    {"golden/tokenizer/bpe_roberta", test_bpe_roberta},
    {"golden/tokenizer/bpe_llama3", test_bpe_llama3},
    {"golden/tokenizer/wordpiece_uncased", test_wordpiece_uncased},
    {"golden/tokenizer/wordpiece_cased", test_wordpiece_cased},
    {"golden/tokenizer/wordpiece_uncased_vocab_txt", test_wordpiece_uncased_txt},
    {"golden/tokenizer/wordpiece_cased_vocab_txt", test_wordpiece_cased_txt},
    {"golden/tokenizer/t5_unigram", test_t5_unigram},
    {"golden/tokenizer/llama_bpe", test_llama_bpe},
    {"golden/tokenizer/llama_metaspace", test_llama_metaspace},
    {"golden/tokenizer/spm_unigram", test_spm_unigram},
    {"golden/tokenizer/spm_bpe_bytefallback", test_spm_bpe},
    {"golden/tokenizer/norm_nfc", test_norm_nfc},
    {"golden/tokenizer/norm_nfkc", test_norm_nfkc},
    {"golden/tokenizer/norm_nfkd_strip_lower", test_norm_nfkd_strip_lower},
    {"golden/tokenizer/norm_nmt_strip", test_norm_nmt_strip},
    {"golden/tokenizer/trained_bpe", test_trained_bpe},
    {"golden/tokenizer/trained_unigram", test_trained_unigram},
    {"golden/tokenizer/gpt2_npm", test_gpt2},
    {"golden/tokenizer/bert_base_uncased_npm", test_bert},
    {"golden/tokenizer/shared_gpt2_json", test_shared_gpt2},
    {"golden/tokenizer/shared_bert_json", test_shared_bert},
    {"golden/tokenizer/shared_spm_test_model", test_shared_spm},
    {NULL, NULL},
};
