// The model step of the pipeline: runs BPE, WordPiece, Unigram or WordLevel on a split's
// normalized text through a cache of recent words (each model is a pure function of the word),
// then maps the tokens' byte spans back to the original text.
#include <string.h>

#include "tokenizer_internal.h"

enum { CACHE_MAX_WORD = 256, CACHE_SLOTS = 1 << 15 };

bool cf__mtoks_push(cf__mtoks *o, int32_t id, size_t s, size_t e) {
    if (o->n == o->cap && !cf__grow((void **)&o->v, &o->cap, o->n + 1, sizeof(cf__mtok)))
        return false;
    o->v[o->n++] = (cf__mtok){id, (uint32_t)s, (uint32_t)e};
    return true;
}

static void cache_clear(cf__model *m) {
    for (uint32_t i = 0; i < m->cache_cap; i++) m->cache[i].key_len = UINT32_MAX;
    m->cache_n = 0;
    m->cache_keys_len = 0;
    m->cache_toks_len = 0;
}

// Looks s up; on a hit appends its tokens to out and returns true.
static bool cache_get(cf__model *m, const char *s, size_t n, uint64_t h, cf__mtoks *out) {
    if (!m->cache_cap) return false;
    for (uint32_t i = (uint32_t)h & (m->cache_cap - 1);; i = (i + 1) & (m->cache_cap - 1)) {
        cf__bpe_cache_entry *e = &m->cache[i];
        if (e->key_len == UINT32_MAX) return false;
        if (e->hash == h && e->key_len == n && !memcmp(m->cache_keys + e->key_off, s, n)) {
            for (uint32_t k = 0; k < e->ntok; k++) {
                const uint32_t *t = m->cache_toks + e->tok_off + 3 * (size_t)k;
                if (!cf__mtoks_push(out, (int32_t)t[0], t[1], t[2])) return false;
            }
            return true;
        }
    }
}

static void cache_put(cf__model *m, const char *s, size_t n, uint64_t h, const cf__mtok *t,
                      size_t nt) {
    if (!m->cache_cap) {
        m->cache = cf__malloc(CACHE_SLOTS * sizeof *m->cache);
        if (!m->cache) return;
        m->cache_cap = CACHE_SLOTS;
        cache_clear(m);
    }
    if (m->cache_n * 2 >= m->cache_cap || m->cache_keys_len > (1u << 24)) cache_clear(m);
    if (!cf__grow((void **)&m->cache_keys, &m->cache_keys_cap, m->cache_keys_len + n, 1) ||
        !cf__grow((void **)&m->cache_toks, &m->cache_toks_cap, m->cache_toks_len + 3 * nt,
                  sizeof(uint32_t)))
        return;  // the cache is an optimisation: no room, no entry
    uint32_t i = (uint32_t)h & (m->cache_cap - 1);
    while (m->cache[i].key_len != UINT32_MAX) i = (i + 1) & (m->cache_cap - 1);
    cf__bpe_cache_entry *e = &m->cache[i];
    e->hash = h;
    e->key_off = (uint32_t)m->cache_keys_len;
    e->key_len = (uint32_t)n;
    e->tok_off = (uint32_t)m->cache_toks_len;
    e->ntok = (uint32_t)nt;
    memcpy(m->cache_keys + m->cache_keys_len, s, n);
    m->cache_keys_len += n;
    for (size_t k = 0; k < nt; k++) {
        uint32_t *d = m->cache_toks + m->cache_toks_len + 3 * k;
        d[0] = (uint32_t)t[k].id;
        d[1] = t[k].s;
        d[2] = t[k].e;
    }
    m->cache_toks_len += 3 * nt;
    m->cache_n++;
}

static int run(cf__model *m, const char *s, size_t n, cf__mtoks *out) {
    switch (m->type) {
    case CF_MODEL_BPE: return cf__bpe_word(m, s, n, out);
    case CF_MODEL_WORDPIECE: return cf__wordpiece_word(m, s, n, out);
    case CF_MODEL_UNIGRAM: return cf__unigram_word(m, s, n, out);
    case CF_MODEL_WORDLEVEL: {
        int32_t id = cf__vocab_id(&m->vocab, s, n);
        if (id < 0) id = m->unk_id;
        if (id < 0) return CF_MODEL_NO_UNK;
        return cf__mtoks_push(out, id, 0, n) ? 0 : CF_MODEL_OOM;
    }
    default: return 0;
    }
}

int cf__model_tokenize(cf__model *m, cf__pts *p, size_t i) {
    cf__seg *sp = &p->sp[i];
    const char *s = p->s + sp->off;
    size_t n = sp->len;
    m->mt.n = 0;
    uint64_t h = 0;
    bool cacheable = n > 0 && n < CACHE_MAX_WORD;
    if (cacheable) h = cf__hash(s, n);
    if (!cacheable || !cache_get(m, s, n, h, &m->mt)) {
        m->mt.n = 0;
        int rc = run(m, s, n, &m->mt);
        if (rc) return rc;
        if (cacheable) cache_put(m, s, n, h, m->mt.v, m->mt.n);
    }
    sp = &p->sp[i];
    sp->tok0 = (int32_t)p->ntok;
    for (size_t k = 0; k < m->mt.n; k++) {
        uint32_t a, b;
        cf__pts_span(p, sp, m->mt.v[k].s, m->mt.v[k].e, &a, &b);
        if (!cf__pts_push_tok(p, m->mt.v[k].id, a, b, 0)) return CF_MODEL_OOM;
    }
    sp->ntok = (int32_t)(p->ntok - (size_t)sp->tok0);
    return 0;
}

void cf__model_find_bytes(cf__model *m) {
    static const char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; b++) {
        char piece[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
        m->byte_id[b] = cf__vocab_id(&m->vocab, piece, 6);
    }
}

void cf__model_free(cf__model *m) {
    cf__vocab_free(&m->vocab);
    cf__u64map_free(&m->merges);
    cf__free(m->cont_prefix);
    cf__free(m->eow_suffix);
    cf__free(m->scores);
    cf__trie_free(&m->trie);
    cf__free(m->cache);
    cf__free(m->cache_keys);
    cf__free(m->cache_toks);
    cf__free(m->scratch);
    cf__free(m->mt.v);
    cf__free(m->word);
    memset(m, 0, sizeof *m);
}
