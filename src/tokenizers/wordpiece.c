// The WordPiece model as the tokenizers library runs it: greedy longest-match-first from the
// start of the word, later pieces looked up with the continuing-subword prefix ("##"); a word
// with more than max_input_chars_per_word characters, or with a part no piece matches, becomes
// the unk token as a whole.
#include <string.h>

#include "tokenizer_internal.h"

int cf__wordpiece_word(cf__model *m, const char *w, size_t n, cf__mtoks *out) {
    size_t chars = 0;
    for (size_t i = 0; i < n; i += (size_t)cf__utf8_lead_len((uint8_t)w[i])) chars++;
    size_t first = out->n;
    if (chars <= (size_t)m->max_chars) {
        size_t need = n + m->cont_len;
        if (!cf__grow((void **)&m->word, &m->word_cap, need + 1, 1)) return CF_MODEL_OOM;
        if (m->cont_len) memcpy(m->word, m->cont_prefix, m->cont_len);
        size_t start = 0;
        bool bad = false;
        while (start < n) {
            size_t end = n;
            int32_t found = -1;
            while (start < end) {
                int32_t id;
                if (start > 0) {
                    memcpy(m->word + m->cont_len, w + start, end - start);
                    id = cf__vocab_id(&m->vocab, m->word, m->cont_len + end - start);
                } else {
                    id = cf__vocab_id(&m->vocab, w, end);
                }
                if (id >= 0) {
                    found = id;
                    break;
                }
                // Drop the last character.
                size_t k = end - 1;
                while (k > start && ((uint8_t)w[k] & 0xC0) == 0x80) k--;
                end = k;
            }
            if (found < 0) {
                bad = true;
                break;
            }
            if (!cf__mtoks_push(out, found, start, end)) return CF_MODEL_OOM;
            start = end;
        }
        if (!bad) return 0;
        out->n = first;
    }
    if (m->unk_id < 0) return CF_MODEL_NO_UNK;
    return cf__mtoks_push(out, m->unk_id, 0, n) ? 0 : CF_MODEL_OOM;
}
