// The Unigram model as the tokenizers library runs it: the best segmentation of a word by the
// sum of piece scores (log probabilities, in double), found with the one-pass Viterbi that
// SentencePiece calls EncodeOptimized; a character no piece starts with gets the unk score
// (lowest score - 10). Consecutive unknown characters fuse into one token, which becomes its
// <0xXX> bytes under byte fallback, else the unk id. Every piece of the vocabulary can match,
// special ones included (unlike SentencePiece itself, see sentencepiece.c).
#include <math.h>
#include <string.h>

#include "tokenizer_internal.h"

bool cf__unigram_build(cf__model *m) {
    if (!cf__trie_init(&m->trie)) return false;
    m->min_score = INFINITY;
    for (int32_t id = 0; id < m->vocab.n; id++) {
        size_t n;
        const char *p = cf__vocab_piece(&m->vocab, id, &n);
        if (!p) continue;
        if (m->scores[id] < m->min_score) m->min_score = m->scores[id];
        // The value is the id the piece maps to (the last of duplicates).
        if (!cf__trie_insert(&m->trie, p, n, cf__vocab_id(&m->vocab, p, n))) return false;
    }
    return true;
}

typedef struct best {
    double score;
    int32_t id;
    int32_t start;  // -1: unreached
} best;

int cf__unigram_word(cf__model *m, const char *w, size_t n, cf__mtoks *out) {
    if (n == 0) return 0;
    if (!cf__grow(&m->scratch, &m->scratch_cap, (n + 1) * sizeof(best), 1)) return CF_MODEL_OOM;
    best *b = m->scratch;
    for (size_t i = 0; i <= n; i++) b[i] = (best){0.0, 0, -1};
    double unk_score = m->min_score - 10.0;
    for (size_t st = 0; st < n;) {
        double base = b[st].score;
        size_t mblen = (size_t)cf__utf8_lead_len((uint8_t)w[st]);
        if (st + mblen > n) mblen = n - st;
        bool single = false;
        uint32_t node = 0;
        for (size_t k = st; k < n; k++) {
            node = cf__trie_step(&m->trie, node, (uint8_t)w[k]);
            if (node == UINT32_MAX) break;
            int32_t id = m->trie.val[node];
            if (id < 0) continue;
            size_t end = k + 1;
            double cand = m->scores[id] + base;
            if (b[end].start < 0 || cand > b[end].score) {
                b[end] = (best){cand, id, (int32_t)st};
            }
            if (end - st == mblen) single = true;
        }
        if (!single) {
            if (m->unk_id < 0) return CF_MODEL_NO_UNK;
            double cand = unk_score + base;
            if (b[st + mblen].start < 0 || cand > b[st + mblen].score)
                b[st + mblen] = (best){cand, m->unk_id, (int32_t)st};
        }
        st += mblen;
    }
    // Backtrack, fusing runs of unk nodes; tokens come out reversed.
    size_t first = out->n;
    size_t end = n, unk_end = 0;
    bool in_unk = false;
    while (end > 0) {
        best *node = &b[end];
        if (node->start < 0) return CF_MODEL_NO_UNK;  // unreachable: cannot happen
        size_t st = (size_t)node->start;
        if (node->id == m->unk_id) {
            if (!in_unk) unk_end = end;
            in_unk = true;
        } else {
            if (in_unk && !cf__mtoks_push(out, m->unk_id, end, unk_end)) return CF_MODEL_OOM;
            in_unk = false;
            if (!cf__mtoks_push(out, node->id, st, end)) return CF_MODEL_OOM;
        }
        end = st;
    }
    if (in_unk && !cf__mtoks_push(out, m->unk_id, 0, unk_end)) return CF_MODEL_OOM;
    for (size_t i = first, j = out->n - 1; i < j; i++, j--) {
        cf__mtok t = out->v[i];
        out->v[i] = out->v[j];
        out->v[j] = t;
    }
    // Unknown runs: the library looks the fused string up first, then takes its <0xXX> bytes
    // (each with the run's span) under byte fallback, else the unk id.
    size_t nt = out->n;
    for (size_t i = first; i < nt; i++) {
        if (out->v[i].id != m->unk_id) continue;
        cf__mtok t = out->v[i];
        int32_t direct = cf__vocab_id(&m->vocab, w + t.s, t.e - t.s);
        if (direct >= 0) {
            out->v[i].id = direct;
            continue;
        }
        if (!m->byte_fallback) continue;
        bool all = true;
        for (uint32_t k = t.s; k < t.e && all; k++) all = m->byte_id[(uint8_t)w[k]] >= 0;
        if (!all) continue;
        size_t extra = t.e - t.s - 1;
        if (!cf__grow((void **)&out->v, &out->cap, out->n + extra, sizeof(cf__mtok)))
            return CF_MODEL_OOM;
        memmove(out->v + i + 1 + extra, out->v + i + 1, (out->n - i - 1) * sizeof(cf__mtok));
        for (uint32_t k = t.s; k < t.e; k++)
            out->v[i + (k - t.s)] = (cf__mtok){m->byte_id[(uint8_t)w[k]], t.s, t.e};
        out->n += extra;
        nt += extra;
        i += extra;
    }
    return 0;
}
