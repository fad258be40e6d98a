// Containers for the tokenizers: growable arrays, a string -> id map with its key pool, a
// vocabulary (id <-> piece), a uint64 -> (int32, int32) map for BPE merges, and a byte trie
// whose edges live in that map. Open addressing with linear probing, power-of-two tables kept
// at most half full. Not here: anything that knows about a tokenizer format.
#include <string.h>

#include "tokenizer_internal.h"

bool cf__grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > SIZE_MAX / 2) return false;
        nc *= 2;
    }
    size_t bytes;
    if (!cf__mul_ok(nc, elem, &bytes)) return false;
    void *np = cf__realloc(*p, bytes);
    if (!np) return false;
    *p = np;
    *cap = nc;
    return true;
}

// A fast 64-bit hash of bytes: 8-byte words folded with multiply-xorshift (not cryptographic;
// the tables only need a good spread).
uint64_t cf__hash(const void *p, size_t n) {
    const uint8_t *s = p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xC2B2AE3D27D4EB4Full);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ (w * 0xFF51AFD7ED558CCDull)) * 0xC4CEB9FE1A85EC53ull;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++) w |= (uint64_t)s[i] << (8 * i);
    h = (h ^ (w * 0xFF51AFD7ED558CCDull)) * 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 32;
    return h;
}

// ---- string map ----

static bool sm_rehash(cf__strmap *m, uint32_t ncap) {
    cf__sm_slot *ns = cf__malloc((size_t)ncap * sizeof *ns);
    if (!ns) return false;
    for (uint32_t i = 0; i < ncap; i++) ns[i].len = UINT32_MAX;
    for (uint32_t i = 0; i < m->cap; i++) {
        if (m->slots[i].len == UINT32_MAX) continue;
        uint32_t j = m->slots[i].hash & (ncap - 1);
        while (ns[j].len != UINT32_MAX) j = (j + 1) & (ncap - 1);
        ns[j] = m->slots[i];
    }
    cf__free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return true;
}

static uint32_t sm_find(const cf__strmap *m, const char *s, size_t n, uint32_t h) {
    for (uint32_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        const cf__sm_slot *e = &m->slots[i];
        if (e->len == UINT32_MAX) return i;
        if (e->hash == h && e->len == n && !memcmp(m->pool + e->off, s, n)) return i;
    }
}

int32_t cf__strmap_get(const cf__strmap *m, const char *s, size_t n) {
    if (!m->cap) return -1;
    uint32_t h = (uint32_t)cf__hash(s, n);
    const cf__sm_slot *e = &m->slots[sm_find(m, s, n, h)];
    return e->len == UINT32_MAX ? -1 : e->val;
}

bool cf__strmap_put(cf__strmap *m, const char *s, size_t n, int32_t val, bool overwrite,
                    uint32_t *off_out) {
    if (n >= UINT32_MAX / 2) return false;
    if ((m->n + 1) * 2 > m->cap && !sm_rehash(m, m->cap ? m->cap * 2 : 64)) return false;
    uint32_t h = (uint32_t)cf__hash(s, n);
    uint32_t i = sm_find(m, s, n, h);
    cf__sm_slot *e = &m->slots[i];
    if (e->len != UINT32_MAX) {
        if (overwrite) e->val = val;
        if (off_out) *off_out = e->off;
        return true;
    }
    if (m->pool_len + n + 1 > UINT32_MAX) return false;
    if (!cf__grow((void **)&m->pool, &m->pool_cap, m->pool_len + n + 1, 1)) return false;
    if (n) memcpy(m->pool + m->pool_len, s, n);
    m->pool[m->pool_len + n] = 0;
    e->hash = h;
    e->off = (uint32_t)m->pool_len;
    e->len = (uint32_t)n;
    e->val = val;
    m->pool_len += n + 1;
    m->n++;
    if (off_out) *off_out = e->off;
    return true;
}

void cf__strmap_free(cf__strmap *m) {
    cf__free(m->slots);
    cf__free(m->pool);
    memset(m, 0, sizeof *m);
}

// ---- vocabulary ----

bool cf__vocab_set(cf__vocab *v, int32_t id, const char *s, size_t n, bool overwrite) {
    if (id < 0 || id >= CF_TOK_MAX_VOCAB) return false;
    if ((size_t)id >= v->cap) {
        size_t want = v->cap ? v->cap : 64;
        while (want <= (size_t)id) want *= 2;
        uint32_t *no = cf__realloc(v->off, want * sizeof(uint32_t));
        if (!no) return false;
        v->off = no;
        uint32_t *nl = cf__realloc(v->len, want * sizeof(uint32_t));
        if (!nl) return false;
        v->len = nl;
        for (size_t i = v->cap; i < want; i++) v->off[i] = v->len[i] = UINT32_MAX;
        v->cap = want;
    }
    if (id >= v->n) v->n = id + 1;
    uint32_t off;
    if (!cf__strmap_put(&v->map, s, n, id, overwrite, &off)) return false;
    v->off[id] = off;
    v->len[id] = (uint32_t)n;
    return true;
}

int32_t cf__vocab_id(const cf__vocab *v, const char *s, size_t n) {
    return cf__strmap_get(&v->map, s, n);
}

const char *cf__vocab_piece(const cf__vocab *v, int32_t id, size_t *n) {
    if (id < 0 || id >= v->n || v->off[id] == UINT32_MAX) return NULL;
    if (n) *n = v->len[id];
    return v->map.pool + v->off[id];
}

void cf__vocab_free(cf__vocab *v) {
    cf__strmap_free(&v->map);
    cf__free(v->off);
    cf__free(v->len);
    memset(v, 0, sizeof *v);
}

// ---- uint64 map ----

static uint32_t u64_slot(const cf__u64map *m, uint64_t key) {
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    h ^= h >> 31;
    for (uint32_t i = (uint32_t)h & (m->cap - 1);; i = (i + 1) & (m->cap - 1))
        if (m->keys[i] == key || m->keys[i] == UINT64_MAX) return i;
}

static bool u64_rehash(cf__u64map *m, uint32_t ncap) {
    cf__u64map n = {0};
    n.cap = ncap;
    n.keys = cf__malloc((size_t)ncap * sizeof(uint64_t));
    n.a = cf__malloc((size_t)ncap * sizeof(int32_t));
    n.b = cf__malloc((size_t)ncap * sizeof(int32_t));
    if (!n.keys || !n.a || !n.b) {
        cf__u64map_free(&n);
        return false;
    }
    memset(n.keys, 0xff, (size_t)ncap * sizeof(uint64_t));
    for (uint32_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == UINT64_MAX) continue;
        uint32_t j = u64_slot(&n, m->keys[i]);
        n.keys[j] = m->keys[i];
        n.a[j] = m->a[i];
        n.b[j] = m->b[i];
    }
    n.n = m->n;
    cf__u64map_free(m);
    *m = n;
    return true;
}

bool cf__u64map_put(cf__u64map *m, uint64_t key, int32_t a, int32_t b) {
    if ((m->n + 1) * 2 > m->cap && !u64_rehash(m, m->cap ? m->cap * 2 : 64)) return false;
    uint32_t i = u64_slot(m, key);
    if (m->keys[i] == UINT64_MAX) m->n++;
    m->keys[i] = key;
    m->a[i] = a;
    m->b[i] = b;
    return true;
}

bool cf__u64map_get(const cf__u64map *m, uint64_t key, int32_t *a, int32_t *b) {
    if (!m->cap) return false;
    uint32_t i = u64_slot(m, key);
    if (m->keys[i] == UINT64_MAX) return false;
    *a = m->a[i];
    *b = m->b[i];
    return true;
}

void cf__u64map_free(cf__u64map *m) {
    cf__free(m->keys);
    cf__free(m->a);
    cf__free(m->b);
    memset(m, 0, sizeof *m);
}

// ---- byte trie ----

bool cf__trie_init(cf__trie *t) {
    memset(t, 0, sizeof *t);
    if (!cf__grow((void **)&t->val, &t->cap_nodes, 1, sizeof(int32_t))) return false;
    t->val[0] = -1;
    t->n_nodes = 1;
    return true;
}

bool cf__trie_insert(cf__trie *t, const char *s, size_t n, int32_t val) {
    uint32_t node = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t child = cf__trie_step(t, node, (uint8_t)s[i]);
        if (child == UINT32_MAX) {
            if (t->n_nodes >= (uint32_t)INT32_MAX) return false;
            if (!cf__grow((void **)&t->val, &t->cap_nodes, t->n_nodes + 1, sizeof(int32_t)))
                return false;
            child = t->n_nodes++;
            t->val[child] = -1;
            if (!cf__u64map_put(&t->edges, (uint64_t)node << 8 | (uint8_t)s[i], (int32_t)child,
                                0))
                return false;
        }
        node = child;
    }
    if (t->val[node] < 0) t->val[node] = val;
    return true;
}

void cf__trie_free(cf__trie *t) {
    cf__u64map_free(&t->edges);
    cf__free(t->val);
    memset(t, 0, sizeof *t);
}
