// The original vocabulary files of GPT-2 and BERT, turned into the pipelines that the
// tokenizers library builds for them (what transformers' GPT2TokenizerFast and
// BertTokenizerFast converters produce):
//
//   encoder.json + vocab.bpe (GPT-2; also RoBERTa's vocab.json + merges.txt):
//     encoder.json  JSON object {piece: id}, pieces in GPT-2's byte-level alphabet
//     vocab.bpe     "#version: ..." first line (skipped), then one merge per line: "a b"
//     pipeline      ByteLevel pre-tokenizer (no prefix space), BPE, ByteLevel decoder and
//                   post-processor (offsets untrimmed), <|endoftext|> a special token
//   vocab.txt (BERT):
//     one piece per line, id = line number, trailing whitespace trimmed
//     pipeline      BertNormalizer (lower-casing and accent stripping when uncased),
//                   BertPreTokenizer, WordPiece ("##", [UNK], 100 characters),
//                   [CLS] $A [SEP] / [CLS] $A [SEP] $B:1 [SEP]:1, WordPiece decoder;
//                   [PAD] [UNK] [CLS] [SEP] [MASK] special tokens
#include <cJSON.h>  // defines: cJSON_ParseWithLength
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tokenizer_internal.h"

static bool add_special(cf__hf *h, const char *s) {
    int32_t id = cf__vocab_id(&h->model.vocab, s, strlen(s));
    if (id < 0) return true;  // absent from this vocabulary: nothing to add
    return cf__hf_add_token(h, s, strlen(s), id, true, false, false, false, false);
}

cf_status cf__tokenizer_parse_gpt2(cf_ctx *ctx, const char *vocab_path, const uint8_t *vocab,
                                   size_t vocab_size, const char *merges_path,
                                   const uint8_t *merges, size_t merges_size, cf_tokenizer **out) {
    *out = NULL;
    if (vocab_size > CF_TOK_MAX_FILE || merges_size > CF_TOK_MAX_FILE)
        return CF_FORMAT_ERR(ctx, "%s: file too large", vocab_path);
    cJSON *root = cJSON_ParseWithLength((const char *)vocab, vocab_size);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return CF_FORMAT_ERR(ctx, "%s: not a JSON object of piece -> id", vocab_path);
    }
    cf_status st = CF_OK;
    cf_tokenizer *t = cf__tokenizer_new(ctx, CF_TOK_GPT2);
    cf__hf *h = cf__calloc(1, sizeof *h);
    if (!t || !h) {
        cf__free(h);
        cf_tokenizer_free(t);
        cJSON_Delete(root);
        return CF_NOMEM(ctx);
    }
    t->hf = h;
    cf__model *m = &h->model;
    m->type = CF_MODEL_BPE;
    m->unk_id = -1;
    for (const cJSON *e = root->child; e; e = e->next) {
        double d = cJSON_IsNumber(e) ? e->valuedouble : -1;
        if (!(d >= 0 && d < CF_TOK_MAX_VOCAB && d == floor(d))) {
            st = CF_FORMAT_ERR(ctx, "%s: '%.40s' has no id in [0, 2^24)", vocab_path, e->string);
            goto fail;
        }
        if (!cf__vocab_set(&m->vocab, (int32_t)d, e->string, strlen(e->string), true)) {
            st = CF_NOMEM(ctx);
            goto fail;
        }
    }
    // Merges, line by line.
    size_t pos = 0;
    int32_t rank = 0;
    int line = 0;
    char err[200];
    while (pos < merges_size) {
        const char *s = (const char *)merges + pos;
        const char *nl = memchr(s, '\n', merges_size - pos);
        size_t n = nl ? (size_t)(nl - s) : merges_size - pos;
        pos += n + (nl ? 1 : 0);
        line++;
        if (n > 0 && s[n - 1] == '\r') n--;
        if (n >= 8 && !memcmp(s, "#version", 8)) continue;
        const char *sp = memchr(s, ' ', n);
        if (!sp || memchr(sp + 1, ' ', n - (size_t)(sp + 1 - s))) {
            st = CF_FORMAT_ERR(ctx, "%s: line %d (byte %zu) is not two pieces split by a space",
                               merges_path, line, (size_t)(s - (const char *)merges));
            goto fail;
        }
        bool oom = false;
        if (!cf__bpe_add_merge(m, s, (size_t)(sp - s), sp + 1, n - (size_t)(sp + 1 - s), rank, err,
                               sizeof err, &oom)) {
            st = oom ? CF_NOMEM(ctx) : CF_FORMAT_ERR(ctx, "%s: line %d: %s", merges_path, line, err);
            goto fail;
        }
        rank++;
    }
    cf__model_find_bytes(m);
    h->pre = cf__calloc(1, sizeof *h->pre);
    h->dec = cf__calloc(1, sizeof *h->dec);
    h->post = cf__calloc(1, sizeof *h->post);
    if (!h->pre || !h->dec || !h->post || !(h->pre->re = cf__regex_gpt2())) {
        st = CF_NOMEM(ctx);
        goto fail;
    }
    h->pre->type = CF_PRE_BYTELEVEL;
    h->pre->use_regex = true;
    h->dec->type = CF_DEC_BYTELEVEL;
    h->post->type = CF_POST_BYTELEVEL;
    if (!add_special(h, "<|endoftext|>") || !cf__hf_refresh(h)) {
        st = CF_NOMEM(ctx);
        goto fail;
    }
    t->n_vocab = h->n_vocab;
    t->eos = cf__vocab_id(&m->vocab, "<|endoftext|>", 13);
    t->bos = t->eos;
    cJSON_Delete(root);
    *out = t;
    return CF_OK;
fail:
    cJSON_Delete(root);
    cf_tokenizer_free(t);
    return st;
}

cf_status cf__tokenizer_parse_vocab_txt(cf_ctx *ctx, const char *path, const uint8_t *data,
                                        size_t size, bool lowercase, cf_tokenizer **out) {
    *out = NULL;
    if (size > CF_TOK_MAX_FILE) return CF_FORMAT_ERR(ctx, "%s: file too large", path);
    cf_status st = CF_OK;
    cf_tokenizer *t = cf__tokenizer_new(ctx, CF_TOK_WORDPIECE);
    cf__hf *h = cf__calloc(1, sizeof *h);
    if (!t || !h) {
        cf__free(h);
        cf_tokenizer_free(t);
        return CF_NOMEM(ctx);
    }
    t->hf = h;
    cf__model *m = &h->model;
    m->type = CF_MODEL_WORDPIECE;
    m->max_chars = 100;
    if (!(m->cont_prefix = cf__strdup("##"))) {
        st = CF_NOMEM(ctx);
        goto fail;
    }
    m->cont_len = 2;
    size_t pos = 0;
    int32_t id = 0;
    while (pos < size) {
        const char *s = (const char *)data + pos;
        const char *nl = memchr(s, '\n', size - pos);
        size_t n = nl ? (size_t)(nl - s) : size - pos;
        pos += n + (nl ? 1 : 0);
        if (!cf__utf8_valid(s, n)) {
            st = CF_FORMAT_ERR(ctx, "%s: line %d (byte %zu) is not valid UTF-8", path, id + 1,
                               (size_t)(s - (const char *)data));
            goto fail;
        }
        // trim_end: trailing whitespace (White_Space) goes.
        while (n > 0) {
            size_t k = n - 1;
            while (k > 0 && ((uint8_t)s[k] & 0xC0) == 0x80) k--;
            uint32_t c;
            cf__utf8_get(s + k, &c);
            if (!cf__uc_is_whitespace(c)) break;
            n = k;
        }
        if (id >= CF_TOK_MAX_VOCAB) {
            st = CF_FORMAT_ERR(ctx, "%s: more than 2^24 lines", path);
            goto fail;
        }
        if (!cf__vocab_set(&m->vocab, id, s, n, true)) {
            st = CF_NOMEM(ctx);
            goto fail;
        }
        id++;
    }
    if (id == 0) {
        st = CF_FORMAT_ERR(ctx, "%s: empty vocabulary", path);
        goto fail;
    }
    m->unk_id = cf__vocab_id(&m->vocab, "[UNK]", 5);
    h->norm = cf__calloc(1, sizeof *h->norm);
    h->pre = cf__calloc(1, sizeof *h->pre);
    h->dec = cf__calloc(1, sizeof *h->dec);
    h->post = cf__calloc(1, sizeof *h->post);
    if (!h->norm || !h->pre || !h->dec || !h->post || !(h->dec->str = cf__strdup("##"))) {
        st = CF_NOMEM(ctx);
        goto fail;
    }
    h->norm->type = CF_NORM_BERT;
    h->norm->clean_text = h->norm->chinese = true;
    h->norm->lowercase = h->norm->strip_accents = lowercase;
    h->pre->type = CF_PRE_BERT;
    h->dec->type = CF_DEC_WORDPIECE;
    h->dec->str_len = 2;
    h->dec->cleanup = true;
    int32_t cls = cf__vocab_id(&m->vocab, "[CLS]", 5), sep = cf__vocab_id(&m->vocab, "[SEP]", 5);
    if (cls >= 0 && sep >= 0) {
        h->post->type = CF_POST_BERT;
        h->post->cls_id = cls;
        h->post->sep_id = sep;
    } else {
        cf__free(h->post);
        h->post = NULL;
    }
    static const char *const specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (int k = 0; k < 5; k++)
        if (!add_special(h, specials[k])) {
            st = CF_NOMEM(ctx);
            goto fail;
        }
    if (!cf__hf_refresh(h)) {
        st = CF_NOMEM(ctx);
        goto fail;
    }
    t->n_vocab = h->n_vocab;
    t->bos = cls;
    t->eos = sep;
    *out = t;
    return CF_OK;
fail:
    cf_tokenizer_free(t);
    return st;
}
