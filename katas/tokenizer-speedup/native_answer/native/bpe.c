/* BPE merges of one chunk, in C: the tokenizer's hot loop without the interpreter.
 *
 * A table maps each learned pair (left, right) to its rank, which is also the id the
 * pair merges into (merge k creates id 256 + k). bpe_encode repeats one step on a
 * chunk's bytes: find the adjacent pair of lowest rank, merge it, and look up only its
 * two new neighbours, as the Python version does; equal lowest ranks are the same pair
 * and the leftmost goes first. Chunks are short (a word), so a linear scan for the
 * minimum beats a heap.
 */
#include <stdint.h>
#include <stdlib.h>

#define NO_MERGE INT64_MAX

typedef struct {
    uint64_t key; /* (left << 32 | right) + 1; 0 marks an empty slot */
    int64_t rank;
} slot_t;

typedef struct {
    slot_t *slots;
    uint64_t mask;
} table_t;

static uint64_t pair_key(int64_t left, int64_t right) {
    return (((uint64_t)left << 32) | (uint64_t)(uint32_t)right) + 1;
}

static uint64_t mix(uint64_t x) { /* splitmix64's finaliser */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static int64_t lookup(const table_t *t, int64_t left, int64_t right) {
    uint64_t key = pair_key(left, right);
    for (uint64_t i = mix(key) & t->mask;; i = (i + 1) & t->mask) {
        if (t->slots[i].key == key) return t->slots[i].rank;
        if (t->slots[i].key == 0) return NO_MERGE;
    }
}

void *bpe_new(int64_t n, const int64_t *left, const int64_t *right, const int64_t *rank) {
    uint64_t capacity = 16;
    while (capacity < 2 * (uint64_t)n + 16) capacity <<= 1; /* at most half full */
    table_t *t = malloc(sizeof *t);
    if (t == NULL) return NULL;
    t->slots = calloc(capacity, sizeof(slot_t));
    if (t->slots == NULL) {
        free(t);
        return NULL;
    }
    t->mask = capacity - 1;
    for (int64_t k = 0; k < n; k++) {
        uint64_t key = pair_key(left[k], right[k]);
        uint64_t i = mix(key) & t->mask;
        while (t->slots[i].key != 0 && t->slots[i].key != key) i = (i + 1) & t->mask;
        t->slots[i].key = key;
        t->slots[i].rank = rank[k];
    }
    return t;
}

void bpe_free(void *table) {
    table_t *t = table;
    if (t != NULL) free(t->slots);
    free(t);
}

/* Writes the chunk's ids to `ids` (room for n) and returns how many there are; -1 when
 * memory runs out. `ranks` is scratch of n - 1 entries. */
int64_t bpe_encode(const void *table, const uint8_t *data, int64_t n, int64_t *ids) {
    const table_t *t = table;
    if (n <= 1) {
        if (n == 1) ids[0] = data[0];
        return n;
    }
    int64_t *ranks = malloc((size_t)(n - 1) * sizeof *ranks);
    if (ranks == NULL) return -1;
    for (int64_t i = 0; i < n; i++) ids[i] = data[i];
    for (int64_t i = 0; i + 1 < n; i++) ranks[i] = lookup(t, ids[i], ids[i + 1]);
    int64_t len = n;
    while (len > 1) {
        int64_t best = NO_MERGE, at = -1;
        for (int64_t i = 0; i + 1 < len; i++) {
            if (ranks[i] < best) {
                best = ranks[i];
                at = i;
            }
        }
        if (at < 0) break;
        ids[at] = best; /* a pair's rank is the id it merges into */
        for (int64_t i = at + 1; i + 1 < len; i++) ids[i] = ids[i + 1];
        for (int64_t i = at; i + 2 < len; i++) ranks[i] = ranks[i + 1];
        len--;
        if (at > 0) ranks[at - 1] = lookup(t, ids[at - 1], ids[at]);
        if (at + 1 < len) ranks[at] = lookup(t, ids[at], ids[at + 1]);
    }
    free(ranks);
    return len;
}
