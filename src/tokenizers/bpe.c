// The BPE model as the tokenizers library runs it: a word's characters (with the continuing-
// subword prefix and end-of-word suffix where configured) become symbols, unknown ones fall
// back to <0xXX> byte pieces or the unk token (fused when fuse_unk), then merges are applied
// lowest rank first (leftmost on ties) through a heap, as Word::merge_all does. The merge
// table maps a pair of ids to (rank, merged id); a later duplicate pair replaces an earlier one.
//
// Not here: dropout (a training-time option; dropout > 0 is refused at load), the word cache
// (model.c).
#include <string.h>
#include <stdio.h>

#include "tokenizer_internal.h"

bool cf__bpe_add_merge(cf__model *m, const char *a, size_t na, const char *b, size_t nb,
                       int32_t rank, char *err, size_t err_cap, bool *oom) {
    int32_t ia = cf__vocab_id(&m->vocab, a, na), ib = cf__vocab_id(&m->vocab, b, nb);
    if (ia < 0 || ib < 0) {
        snprintf(err, err_cap, "merge %d: '%.*s' is not in the vocabulary", rank,
                 (int)(ia < 0 ? (na > 60 ? 60 : na) : (nb > 60 ? 60 : nb)), ia < 0 ? a : b);
        return false;
    }
    // The merged piece is a + b without the prefix's length (the library slices it off).
    size_t skip = m->cont_prefix ? m->cont_len : 0;
    if (skip > nb) {
        snprintf(err, err_cap, "merge %d: '%.*s' is shorter than the continuing prefix", rank,
                 (int)(nb > 60 ? 60 : nb), b);
        return false;
    }
    size_t n = na + nb - skip;
    char stack[256];
    char *joined = n <= sizeof stack ? stack : cf__malloc(n);
    if (!joined) {
        *oom = true;
        return false;
    }
    memcpy(joined, a, na);
    memcpy(joined + na, b + skip, nb - skip);
    int32_t id = cf__vocab_id(&m->vocab, joined, n);
    if (joined != stack) cf__free(joined);
    if (id < 0) {
        snprintf(err, err_cap, "merge %d: '%.*s%.*s' is not in the vocabulary", rank,
                 (int)(na > 40 ? 40 : na), a, (int)(nb > 40 ? 40 : nb), b);
        return false;
    }
    if (!cf__u64map_put(&m->merges, (uint64_t)(uint32_t)ia << 32 | (uint32_t)ib, rank, id)) {
        *oom = true;
        return false;
    }
    return true;
}

// ---- merging ----

typedef struct sym {
    int32_t c;
    int32_t prev, next;
    uint32_t len;
} sym;

typedef struct merge {
    int32_t rank;
    int32_t pos;
    int32_t new_id;
} merge;

static bool before(const merge *a, const merge *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(merge *h, size_t *n, merge x) {
    size_t i = (*n)++;
    h[i] = x;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&h[i], &h[p])) break;
        merge t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

static merge heap_pop(merge *h, size_t *n) {
    merge top = h[0];
    h[0] = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, b = i;
        if (l < *n && before(&h[l], &h[b])) b = l;
        if (r < *n && before(&h[r], &h[b])) b = r;
        if (b == i) break;
        merge t = h[i];
        h[i] = h[b];
        h[b] = t;
        i = b;
    }
    return top;
}

static bool pair_merge(const cf__model *m, int32_t a, int32_t b, int32_t *rank, int32_t *id) {
    return cf__u64map_get(&m->merges, (uint64_t)(uint32_t)a << 32 | (uint32_t)b, rank, id);
}

int cf__bpe_word(cf__model *m, const char *w, size_t n, cf__mtoks *out) {
    if (n == 0) return 0;
    if (m->ignore_merges) {
        int32_t id = cf__vocab_id(&m->vocab, w, n);
        if (id >= 0) return cf__mtoks_push(out, id, 0, n) ? 0 : CF_MODEL_OOM;
    }
    // Scratch: symbols (at most one per byte, plus byte fallback of prefixed pieces) and heap.
    size_t max_syms = n * (1 + m->cont_len + m->eow_len) + 4;
    size_t need = max_syms * (sizeof(sym) + 3 * sizeof(merge));
    if (!cf__grow(&m->scratch, &m->scratch_cap, need, 1)) return CF_MODEL_OOM;
    sym *s = m->scratch;
    merge *h = (merge *)(s + max_syms);
    size_t hcap = 3 * max_syms, nh = 0;
    int32_t ns = 0;
    int32_t unk = -1;
    uint32_t unk_len = 0;
    char stack[64];
    for (size_t i = 0; i < n;) {
        size_t cl = (size_t)cf__utf8_lead_len((uint8_t)w[i]);
        if (i + cl > n) cl = n - i;
        bool first = i == 0, last = i + cl == n;
        const char *piece = w + i;
        size_t plen = cl;
        char *heap_buf = NULL;
        if ((!first && m->cont_prefix) || (last && m->eow_suffix)) {
            size_t pl = !first && m->cont_prefix ? m->cont_len : 0;
            size_t sl = last && m->eow_suffix ? m->eow_len : 0;
            plen = pl + cl + sl;
            char *buf = plen <= sizeof stack ? stack : (heap_buf = cf__malloc(plen));
            if (!buf) return CF_MODEL_OOM;
            if (pl) memcpy(buf, m->cont_prefix, pl);
            memcpy(buf + pl, w + i, cl);
            if (sl) memcpy(buf + pl + cl, m->eow_suffix, sl);
            piece = buf;
        }
        int32_t id = cf__vocab_id(&m->vocab, piece, plen);
        if (id >= 0) {
            if (unk >= 0) {
                s[ns++] = (sym){unk, -1, -1, unk_len};
                unk = -1;
            }
            s[ns++] = (sym){id, -1, -1, (uint32_t)cl};
        } else {
            bool done = false;
            if (m->byte_fallback) {
                bool all = true;
                for (size_t k = 0; k < plen && all; k++) all = m->byte_id[(uint8_t)piece[k]] >= 0;
                if (all) {
                    for (size_t k = 0; k < plen; k++)
                        s[ns++] = (sym){m->byte_id[(uint8_t)piece[k]], -1, -1, 1};
                    done = true;
                }
            }
            if (!done && m->unk_id >= 0) {
                if (unk >= 0 && m->fuse_unk) {
                    unk_len += (uint32_t)cl;
                } else {
                    if (unk >= 0) s[ns++] = (sym){unk, -1, -1, unk_len};
                    unk = m->unk_id;
                    unk_len = (uint32_t)cl;
                }
            }
        }
        cf__free(heap_buf);
        i += cl;
    }
    if (unk >= 0) s[ns++] = (sym){unk, -1, -1, unk_len};
    for (int32_t k = 0; k < ns; k++) {
        s[k].prev = k - 1;
        s[k].next = k + 1 < ns ? k + 1 : -1;
    }
    for (int32_t k = 0; k + 1 < ns; k++) {
        int32_t rank, id;
        if (pair_merge(m, s[k].c, s[k + 1].c, &rank, &id) && nh < hcap)
            heap_push(h, &nh, (merge){rank, k, id});
    }
    while (nh > 0) {
        merge top = heap_pop(h, &nh);
        sym *cur = &s[top.pos];
        if (cur->len == 0 || cur->next == -1) continue;
        int32_t next_pos = cur->next;
        sym right = s[next_pos];
        int32_t rank, id;
        if (!pair_merge(m, cur->c, right.c, &rank, &id) || id != top.new_id) continue;
        cur->c = top.new_id;
        cur->len += right.len;
        cur->next = right.next;
        s[next_pos].len = 0;
        if (right.next > -1 && right.next < ns) s[right.next].prev = top.pos;
        // Each merge pushes at most 2 entries: hcap = 3 * max_syms always suffices.
        if (cur->prev >= 0 && pair_merge(m, s[cur->prev].c, cur->c, &rank, &id) && nh < hcap)
            heap_push(h, &nh, (merge){rank, cur->prev, id});
        if (cur->next >= 0 && cur->next < ns && pair_merge(m, cur->c, s[cur->next].c, &rank, &id) &&
            nh < hcap)
            heap_push(h, &nh, (merge){rank, top.pos, id});
    }
    size_t pos = 0;
    for (int32_t k = 0; k < ns; k++) {
        if (s[k].len == 0) continue;
        if (!cf__mtoks_push(out, s[k].c, pos, pos + s[k].len)) return CF_MODEL_OOM;
        pos += s[k].len;
    }
    return 0;
}
