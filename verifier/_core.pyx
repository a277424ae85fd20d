# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The compiled core of the explorer: the unreduced and the reduced breadth-first searches over
packed states, and the visited store, in C (built from this file by Cython when a C compiler is
present; verifier/core.py says which core is in use and falls back to the pure-Python loops of
verifier/explore.py otherwise).

It runs the same search as explore._bfs_packed_loop and explore._bfs_reduced_packed, over the same
PackedModel (verifier/packed.py): same states in the same order, same counts, same verdicts and
traces (tests/test_core.py holds the two cores together). What changes is the representation:

- a state is W 64-bit words (the packed int's bits, low word first), stored once in an array in
  insertion order, which is breadth-first order, so a level of the search is a range of indices and
  needs no frontier list; a parent link is the parent's index (4 bytes); the visited set is an
  open-addressing table of indices (4 bytes a slot, at most half full);
- a step's memo and the invariants' memo are C hash tables keyed by the state masked to the fields
  read, and hold outcomes as (clear, set) word pairs: the successor is `(s & clear) | set`.

Python is called only where the model is: a memo miss runs the PackedModel's miss function for the
step (the model's guard and effect), an invariant miss runs the invariants on a view decoded here.
When a miss widens a field (PackedModel.version changes), the masks are reloaded, the memos cleared
and, if the layout outgrew W words, every stored state is zero-extended (codes are never renumbered,
so stored states keep their meaning).
"""

from libc.stdint cimport uint64_t, uint32_t, int64_t
from libc.stdlib cimport malloc, calloc, realloc, free
from libc.string cimport memcpy, memset, memcmp
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from cpython.exc cimport PyErr_NoMemory

import sys

CORE_API = 4                 # verifier/core.py refuses a build of another version (a stale build)
MEMO_LIMIT = 1 << 17         # entries per memo, as packed.MEMO_LIMIT
MAX_STATES = 0xFFFFFFFE      # parent links and table slots are 32-bit

# outcomes of a search (the first element of the tuple `run` returns)
HOLDS = 0
INVARIANT = 1                # (INVARIANT, invariant, bad state index, expanding index, transitions, depth, level end)
DEADLOCK = 2                 # (DEADLOCK, state index, transitions, depth)
TERMINAL = 3                 # (TERMINAL, violation object, state index, transitions, depth)
BOUND_STATES = 4             # (BOUND_STATES,)
BOUND_DEPTH = 5              # (BOUND_DEPTH, transitions, depth)


cdef inline uint64_t hash_words(const uint64_t *k, Py_ssize_t W) noexcept nogil:
    cdef uint64_t h = 0x243F6A8885A308D3ULL
    cdef Py_ssize_t i
    for i in range(W):
        h = (h ^ k[i]) * 0x9E3779B97F4A7C15ULL
        h ^= h >> 31
    h *= 0xBF58476D1CE4E5B9ULL
    h ^= h >> 29
    return h


cdef inline uint64_t extract(const uint64_t *s, Py_ssize_t sh, uint64_t m) noexcept nogil:
    """The code at bit `sh` of width mask `m` (at most 63 bits wide)."""
    cdef Py_ssize_t w = sh >> 6
    cdef Py_ssize_t off = sh & 63
    cdef uint64_t v = s[w] >> off
    if off and (m >> (64 - off)):
        v |= s[w + 1] << (64 - off)
    return v & m


cdef class Store:
    """The visited states and their parent links, in insertion (breadth-first) order. From Python it
    behaves as the parent dict of the pure-Python search: `len(store)`, `s in store`, `store[s]` (the
    parent of packed state `s`, None for the initial state)."""
    cdef uint64_t *states
    cdef uint32_t *parents
    cdef uint32_t *table
    cdef Py_ssize_t n, cap, tcap, W
    cdef object full                # (1 << 64 W) - 1

    def __cinit__(self, Py_ssize_t W):
        self.W = W
        self.cap = 1024
        self.tcap = 2048
        self.states = <uint64_t *> malloc(self.cap * W * 8)
        self.parents = <uint32_t *> malloc(self.cap * 4)
        self.table = <uint32_t *> calloc(self.tcap, 4)
        if not self.states or not self.parents or not self.table:
            raise MemoryError()
        self.full = (1 << (64 * <object> W)) - 1

    def __dealloc__(self):
        free(self.states)
        free(self.parents)
        free(self.table)

    cdef Py_ssize_t find_slot(self, const uint64_t *k, uint64_t h) noexcept nogil:
        """The table slot holding `k`, or the empty slot where it would go."""
        cdef Py_ssize_t mask = self.tcap - 1
        cdef Py_ssize_t pos = <Py_ssize_t> (h & mask)
        cdef uint32_t v
        cdef Py_ssize_t W = self.W
        while True:
            v = self.table[pos]
            if v == 0:
                return pos
            if memcmp(self.states + (v - 1) * W, k, W * 8) == 0:
                return pos
            pos = (pos + 1) & mask

    cdef int rehash(self, Py_ssize_t tcap) except -1:
        cdef uint32_t *t = <uint32_t *> calloc(tcap, 4)
        cdef Py_ssize_t i, pos, mask = tcap - 1
        cdef Py_ssize_t W = self.W
        if not t:
            raise MemoryError()
        for i in range(self.n):
            pos = <Py_ssize_t> (hash_words(self.states + i * W, W) & mask)
            while t[pos]:
                pos = (pos + 1) & mask
            t[pos] = <uint32_t> (i + 1)
        free(self.table)
        self.table = t
        self.tcap = tcap
        return 0

    cdef Py_ssize_t insert_at(self, Py_ssize_t slot, const uint64_t *k, Py_ssize_t parent) except -1:
        """Store `k` at table slot `slot` (from find_slot); its index."""
        cdef Py_ssize_t i = self.n
        cdef Py_ssize_t W = self.W
        cdef uint64_t *ns
        cdef uint32_t *np
        if i >= MAX_STATES:
            raise OverflowError("more than 2^32 - 2 states")
        if i == self.cap:
            ns = <uint64_t *> realloc(self.states, self.cap * 2 * W * 8)
            if not ns:
                raise MemoryError()
            self.states = ns
            np = <uint32_t *> realloc(self.parents, self.cap * 2 * 4)
            if not np:
                raise MemoryError()
            self.parents = np
            self.cap *= 2
        memcpy(self.states + i * W, k, W * 8)
        self.parents[i] = <uint32_t> parent if parent >= 0 else 0xFFFFFFFF
        self.table[slot] = <uint32_t> (i + 1)
        self.n = i + 1
        if self.n * 2 > self.tcap:
            self.rehash(self.tcap * 2)
        return i

    cdef int widen(self, Py_ssize_t W2) except -1:
        """Zero-extend every stored state to W2 words."""
        cdef uint64_t *ns = <uint64_t *> calloc(self.cap * W2, 8)
        cdef Py_ssize_t i, W = self.W
        if not ns:
            raise MemoryError()
        for i in range(self.n):
            memcpy(ns + i * W2, self.states + i * W, W * 8)
        free(self.states)
        self.states = ns
        self.W = W2
        self.full = (1 << (64 * <object> W2)) - 1
        self.rehash(self.tcap)
        return 0

    # -- conversions ------------------------------------------------------------------------
    cdef object to_int(self, const uint64_t *k):
        return int.from_bytes(PyBytes_FromStringAndSize(<const char *> k, self.W * 8), "little")

    cdef int from_int(self, object x, uint64_t *out) except -1:
        b = (x & self.full).to_bytes(self.W * 8, "little")
        memcpy(out, PyBytes_AS_STRING(b), self.W * 8)
        return 0

    cdef Py_ssize_t index_of(self, object s) except -2:
        cdef uint64_t *k
        cdef Py_ssize_t slot
        cdef uint32_t v
        if s < 0 or s > self.full:
            return -1
        k = <uint64_t *> malloc(self.W * 8)
        if not k:
            raise MemoryError()
        try:
            self.from_int(s, k)
            slot = self.find_slot(k, hash_words(k, self.W))
            v = self.table[slot]
            return <Py_ssize_t> v - 1
        finally:
            free(k)

    # -- the parent-dict protocol ---------------------------------------------------------------
    def __len__(self):
        return self.n

    def __contains__(self, s):
        return self.index_of(s) >= 0

    def __getitem__(self, s):
        cdef Py_ssize_t i = self.index_of(s)
        if i < 0:
            raise KeyError(s)
        if self.parents[i] == 0xFFFFFFFF:
            return None
        return self.to_int(self.states + <Py_ssize_t> self.parents[i] * self.W)

    def state(self, Py_ssize_t i):
        """The packed state stored at index i."""
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.to_int(self.states + i * self.W)

    def states_between(self, Py_ssize_t lo, Py_ssize_t hi):
        return [self.to_int(self.states + i * self.W) for i in range(lo, hi)]

    def bytes_used(self):
        """Bytes held by the store (states, parent links, table)."""
        return self.cap * (self.W * 8 + 4) + self.tcap * 4


cdef class Memo:
    """(tag, W-word key) -> int64 value; open addressing, at most half full."""
    cdef uint64_t *keys             # tcap * (W + 1): tag, then the key
    cdef int64_t *vals              # -1: empty
    cdef Py_ssize_t n, tcap, W

    def __cinit__(self, Py_ssize_t W):
        self.W = W
        self.tcap = 0
        self.keys = NULL
        self.vals = NULL
        self.reset(W)

    def __dealloc__(self):
        free(self.keys)
        free(self.vals)

    cdef int reset(self, Py_ssize_t W) except -1:
        free(self.keys)
        free(self.vals)
        self.W = W
        self.n = 0
        self.tcap = 256
        self.keys = <uint64_t *> malloc(self.tcap * (W + 1) * 8)
        self.vals = <int64_t *> malloc(self.tcap * 8)
        if not self.keys or not self.vals:
            raise MemoryError()
        memset(self.vals, 0xFF, self.tcap * 8)
        return 0

    cdef inline Py_ssize_t slot(self, const uint64_t *k) noexcept nogil:
        """k: W + 1 words (tag first)."""
        cdef Py_ssize_t W1 = self.W + 1
        cdef Py_ssize_t mask = self.tcap - 1
        cdef Py_ssize_t pos = <Py_ssize_t> (hash_words(k, W1) & mask)
        while self.vals[pos] >= 0:
            if memcmp(self.keys + pos * W1, k, W1 * 8) == 0:
                return pos
            pos = (pos + 1) & mask
        return pos

    cdef inline int64_t get(self, const uint64_t *k) noexcept nogil:
        return self.vals[self.slot(k)]

    cdef int put(self, const uint64_t *k, int64_t v) except -1:
        cdef Py_ssize_t pos = self.slot(k)
        cdef Py_ssize_t W1 = self.W + 1
        if self.vals[pos] < 0:
            memcpy(self.keys + pos * W1, k, W1 * 8)
            self.n += 1
        self.vals[pos] = v
        if self.n * 2 > self.tcap:
            self.grow()
        return 0

    cdef int grow(self) except -1:
        cdef Py_ssize_t W1 = self.W + 1
        cdef Py_ssize_t old = self.tcap, i, pos, mask
        cdef uint64_t *ok = self.keys
        cdef int64_t *ov = self.vals
        self.tcap = old * 2
        mask = self.tcap - 1
        self.keys = <uint64_t *> malloc(self.tcap * W1 * 8)
        self.vals = <int64_t *> malloc(self.tcap * 8)
        if not self.keys or not self.vals:
            raise MemoryError()
        memset(self.vals, 0xFF, self.tcap * 8)
        for i in range(old):
            if ov[i] >= 0:
                pos = <Py_ssize_t> (hash_words(ok + i * W1, W1) & mask)
                while self.vals[pos] >= 0:
                    pos = (pos + 1) & mask
                memcpy(self.keys + pos * W1, ok + i * W1, W1 * 8)
                self.vals[pos] = ov[i]
        free(ok)
        free(ov)
        return 0


cdef class Engine:
    """One search of one PackedModel. `run(...)` returns the outcome tuple (see the constants
    above); `store` is the visited store (the parent map); `counts()` the transitions per step
    entry for coverage."""
    cdef public Store store
    cdef object pk
    cdef Py_ssize_t W, T, E
    cdef Py_ssize_t *th_shift
    cdef uint64_t *th_mask
    cdef Py_ssize_t *th_base
    cdef Py_ssize_t *th_len
    cdef char *ent_valid
    cdef char *ent_memoise
    cdef uint64_t *ent_mask         # E * W
    cdef uint64_t *ent_count        # transitions per entry (coverage)
    cdef Py_ssize_t *ent_memo_n     # entries stored per step memo
    cdef object ent_miss            # list of miss functions (None for a finished pc)
    cdef object ent_obj             # the PackedModel's entry lists
    cdef uint64_t *pc_mask
    cdef uint64_t *done_bits
    cdef uint64_t *inv_mask
    cdef uint64_t *buf              # scratch: cur (W), key (W + 1), succ (W)
    cdef Memo memo
    cdef Memo inv_memo
    cdef uint64_t *pool             # outcomes: count, then count * (clear[W], set[W])
    cdef Py_ssize_t pool_len, pool_cap
    cdef long version
    cdef bint has_inv
    cdef object invariants          # cm.invariants
    cdef object inv_fns
    cdef object InvView
    cdef object inv_fast            # [(shift, mask, values)] or None
    cdef Py_ssize_t n_inv_fast
    cdef Py_ssize_t *inv_sh
    cdef uint64_t *inv_m
    cdef object inv_values
    cdef object canon               # None, or packed int -> canonical packed int
    # reduction tables (set_reduction)
    cdef bint reduced
    cdef char *cand                 # E: the entry's step can form an ample set (compatible not None)
    cdef object comp_bits           # per entry: None or bytes of T * maxpc bits: pc of tj compatible
    cdef unsigned char *compat      # E * T * cw bytes
    cdef Py_ssize_t cw              # bytes per (entry, thread) row
    cdef object cand_threads        # thread indices that have candidates, in order
    cdef public Py_ssize_t reduced_expansions
    # the full graph (record_graph): per state, its out-edges (entry, target index), CSR
    cdef bint graph_mode
    cdef uint32_t *g_off            # n + 1 offsets into g_ent / g_dst
    cdef uint32_t *g_ent            # the step entry of an edge (th_base[thread] + pc)
    cdef uint32_t *g_dst            # the target state's index
    cdef Py_ssize_t g_n, g_cap, g_off_cap
    cdef Py_ssize_t *ent_thread     # E: the thread of an entry

    def __cinit__(self):
        self.th_shift = NULL
        self.th_mask = NULL
        self.th_base = NULL
        self.th_len = NULL
        self.ent_valid = NULL
        self.ent_memoise = NULL
        self.ent_mask = NULL
        self.ent_count = NULL
        self.ent_memo_n = NULL
        self.pc_mask = NULL
        self.done_bits = NULL
        self.inv_mask = NULL
        self.buf = NULL
        self.pool = NULL
        self.inv_sh = NULL
        self.inv_m = NULL
        self.cand = NULL
        self.compat = NULL
        self.g_off = NULL
        self.g_ent = NULL
        self.g_dst = NULL
        self.ent_thread = NULL

    def __dealloc__(self):
        free(self.th_shift)
        free(self.th_mask)
        free(self.th_base)
        free(self.th_len)
        free(self.ent_valid)
        free(self.ent_memoise)
        free(self.ent_mask)
        free(self.ent_count)
        free(self.ent_memo_n)
        free(self.pc_mask)
        free(self.done_bits)
        free(self.inv_mask)
        free(self.buf)
        free(self.pool)
        free(self.inv_sh)
        free(self.inv_m)
        free(self.cand)
        free(self.compat)
        free(self.g_off)
        free(self.g_ent)
        free(self.g_dst)
        free(self.ent_thread)

    def __init__(self, pk, canon=None):
        cdef Py_ssize_t ti, pc, e
        self.pk = pk
        self.canon = canon
        self.T = len(pk.threads)
        self.W = max(1, (pk.top + 63) // 64)
        self.th_shift = <Py_ssize_t *> malloc(max(1, self.T) * sizeof(Py_ssize_t))
        self.th_mask = <uint64_t *> malloc(max(1, self.T) * 8)
        self.th_base = <Py_ssize_t *> malloc(max(1, self.T) * sizeof(Py_ssize_t))
        self.th_len = <Py_ssize_t *> malloc(max(1, self.T) * sizeof(Py_ssize_t))
        e = 0
        self.ent_obj = []
        self.ent_miss = []
        for ti in range(self.T):
            sh, m, entries = pk.threads[ti]
            if m >= (<object> 1) << 63:
                raise OverflowError("a thread with more than 2^63 steps")
            self.th_shift[ti] = sh
            self.th_mask[ti] = m
            self.th_base[ti] = e
            self.th_len[ti] = len(entries)
            for ent in entries:
                self.ent_obj.append(ent)
                self.ent_miss.append(None if ent is None else ent[2])
            e += len(entries)
        self.E = e
        self.ent_thread = <Py_ssize_t *> malloc(max(1, e) * sizeof(Py_ssize_t))
        if not self.ent_thread:
            raise MemoryError()
        for ti in range(self.T):
            for pc in range(self.th_len[ti]):
                self.ent_thread[self.th_base[ti] + pc] = ti
        self.ent_valid = <char *> calloc(max(1, e), 1)
        self.ent_memoise = <char *> calloc(max(1, e), 1)
        self.ent_count = <uint64_t *> calloc(max(1, e), 8)
        self.ent_memo_n = <Py_ssize_t *> calloc(max(1, e), sizeof(Py_ssize_t))
        memo_of = {id(ent): sc.memoise for sc, ent in pk._entries}
        for i in range(e):
            ent = self.ent_obj[i]
            if ent is not None:
                self.ent_valid[i] = 1
                self.ent_memoise[i] = 1 if memo_of[id(ent)] else 0
        self.invariants = list(pk.cm.invariants)
        self.inv_fns = [inv.fn for inv in self.invariants]
        self.has_inv = bool(self.invariants)
        self.InvView = pk.InvView
        self.pool_cap = 1024
        self.pool = <uint64_t *> malloc(self.pool_cap * 8)
        self.memo = Memo(self.W)
        self.inv_memo = Memo(self.W)
        self.store = Store(self.W)
        self.reduced = False
        self.reduced_expansions = 0
        self.alloc_words()
        self.load_layout()

    cdef int alloc_words(self) except -1:
        cdef Py_ssize_t W = self.W
        free(self.ent_mask)
        free(self.pc_mask)
        free(self.done_bits)
        free(self.inv_mask)
        free(self.buf)
        self.ent_mask = <uint64_t *> calloc(max(1, self.E) * W, 8)
        self.pc_mask = <uint64_t *> calloc(W, 8)
        self.done_bits = <uint64_t *> calloc(W, 8)
        self.inv_mask = <uint64_t *> calloc(W, 8)
        self.buf = <uint64_t *> calloc(4 * W + 2, 8)
        if not self.ent_mask or not self.pc_mask or not self.done_bits or not self.inv_mask or not self.buf:
            raise MemoryError()
        return 0

    cdef int load_layout(self) except -1:
        """Masks and invariant decoders from the PackedModel's current layout; memos cleared."""
        cdef Py_ssize_t i, j, W = self.W
        pk = self.pk
        self.version = pk.version
        st = self.store
        for i in range(self.E):
            ent = self.ent_obj[i]
            if ent is not None:
                st.from_int(ent[0], self.ent_mask + i * W)
        st.from_int(pk.pc_mask, self.pc_mask)
        st.from_int(pk.done_bits, self.done_bits)
        st.from_int(pk.inv[0], self.inv_mask)
        fast = pk._inv_fast
        free(self.inv_sh)
        free(self.inv_m)
        self.inv_sh = NULL
        self.inv_m = NULL
        self.inv_fast = fast
        self.n_inv_fast = 0
        if fast is not None:
            self.n_inv_fast = len(fast)
            self.inv_sh = <Py_ssize_t *> malloc(max(1, len(fast)) * sizeof(Py_ssize_t))
            self.inv_m = <uint64_t *> malloc(max(1, len(fast)) * 8)
            self.inv_values = []
            for j, (sh, m, values) in enumerate(fast):
                if m >= (<object> 1) << 63:
                    self.inv_fast = None
                    self.n_inv_fast = 0
                    break
                self.inv_sh[j] = sh
                self.inv_m[j] = m
                self.inv_values.append(values)
        self.memo.reset(W)
        self.inv_memo.reset(W)
        self.pool_len = 0
        memset(self.ent_memo_n, 0, max(1, self.E) * sizeof(Py_ssize_t))
        return 0

    cdef int relayout(self) except -1:
        """After a miss widened a field: a wider word array if needed, then the new masks."""
        cdef Py_ssize_t W2 = max(1, (self.pk.top + 63) // 64)
        cdef uint64_t *old
        cdef Py_ssize_t W = self.W
        if W2 > W:
            # keep the state being expanded (buf[0:W]), zero-extended
            old = <uint64_t *> malloc(W * 8)
            if not old:
                raise MemoryError()
            memcpy(old, self.buf, W * 8)
            self.store.widen(W2)
            self.W = W2
            try:
                self.alloc_words()
            finally:
                memcpy(self.buf, old, W * 8)
                free(old)
        self.load_layout()
        return 0

    # -- memo misses ----------------------------------------------------------------------------
    cdef int pool_reserve(self, Py_ssize_t words) except -1:
        cdef uint64_t *p
        cdef Py_ssize_t cap = self.pool_cap
        while self.pool_len + words > cap:
            cap *= 2
        if cap != self.pool_cap:
            p = <uint64_t *> realloc(self.pool, cap * 8)
            if not p:
                raise MemoryError()
            self.pool = p
            self.pool_cap = cap
        return 0

    cdef Py_ssize_t step_miss(self, Py_ssize_t eid) except -1:
        """Outcomes of entry `eid` at the state in buf[0:W], from the model: a pool offset (stored in
        the memo unless the step is not memoised or its memo is full)."""
        cdef Py_ssize_t W, off, j, k
        cdef Store st = self.store
        s = st.to_int(self.buf)
        ent = self.ent_obj[eid]
        # the PackedModel's own memo first: it survives a widening (which clears the memos here)
        # and a second search of the same model
        outs = ent[4](s & ent[0]) if self.ent_memoise[eid] else None
        if outs is None:
            outs = ent[2](s)
        if self.pk.version != self.version:
            self.relayout()
        W = self.W
        k = len(outs)
        self.pool_reserve(1 + 2 * W * k)
        off = self.pool_len
        self.pool[off] = k
        for j in range(k):
            clear, setb = outs[j]
            st.from_int(clear, self.pool + off + 1 + 2 * W * j)
            st.from_int(setb, self.pool + off + 1 + 2 * W * j + W)
        if self.ent_memoise[eid] and self.ent_memo_n[eid] < MEMO_LIMIT:
            self.pool_len = off + 1 + 2 * W * k
            self.ent_memo_n[eid] += 1
            self.make_key(eid, self.buf, self.ent_mask + eid * W)
            self.memo.put(self.buf + W, off)
        return off

    cdef inline void make_key(self, Py_ssize_t tag, const uint64_t *s, const uint64_t *mask) noexcept nogil:
        cdef Py_ssize_t i, W = self.W
        cdef uint64_t *key = self.buf + W
        key[0] = <uint64_t> tag
        for i in range(W):
            key[1 + i] = s[i] & mask[i]

    cdef inline Py_ssize_t outcomes(self, Py_ssize_t eid) except -1:
        """Pool offset of entry eid's outcomes at the state in buf[0:W]."""
        cdef int64_t off
        self.make_key(eid, self.buf, self.ent_mask + eid * self.W)
        off = self.memo.get(self.buf + self.W)
        if off >= 0:
            return <Py_ssize_t> off
        return self.step_miss(eid)

    cdef Py_ssize_t inv_check(self, const uint64_t *n) except -1:
        """0 when every invariant holds at `n` (W words, not in buf[0:2W+1]), else 1 + the index of
        the first that breaks."""
        cdef Py_ssize_t i, W = self.W
        cdef uint64_t *key = self.buf + W
        cdef int64_t r
        key[0] = 0
        for i in range(W):
            key[1 + i] = n[i] & self.inv_mask[i]
        r = self.inv_memo.get(key)
        if r >= 0:
            return <Py_ssize_t> r
        r = -1
        if self.inv_fast is not None:
            vals = [None] * self.n_inv_fast
            values = self.inv_values
            for i in range(self.n_inv_fast):
                vals[i] = (<list> values[i])[extract(n, self.inv_sh[i], self.inv_m[i])]
            view = tuple.__new__(self.InvView, vals)
            try:
                r = 0
                for i in range(len(self.inv_fns)):
                    if not self.inv_fns[i](view):
                        r = i + 1
                        break
            except Exception:
                r = -1                      # the model's error, reported by the Python path below
        if r < 0:
            res = self.pk.inv_miss(self.store.to_int(n))
            r = 0 if res is True else 1 + next(j for j, inv in enumerate(self.invariants) if inv is res)
        # the key again: the invariants may have run Python code that did not touch buf, but be safe
        key[0] = 0
        for i in range(W):
            key[1 + i] = n[i] & self.inv_mask[i]
        if self.inv_memo.n < MEMO_LIMIT:
            self.inv_memo.put(key, r)
        return <Py_ssize_t> r

    cdef int canonical(self, uint64_t *n) except -1:
        """Replace n (W words) by canon(n)."""
        st = self.store
        c = self.canon(st.to_int(n))
        if self.pk.version != self.version:
            raise RuntimeError("canonicalise widened a field")
        st.from_int(c, n)
        return 0

    def counts(self):
        """Transitions per entry, in pk.threads order (None entries included)."""
        return [self.ent_count[i] for i in range(self.E)]

    # -- the reduced search's tables ------------------------------------------------------------
    def set_reduction(self, red):
        """The ample-set tables of a Reducer (reduce.py): for a thread ti at pc, compatible[ti][pc] is
        None (the step cannot form an ample set) or, per thread tj, a bit mask over tj's pcs of the
        pcs whose futures the step is independent of."""
        cdef Py_ssize_t ti, tj, pc, e, bit, maxlen = 0
        for ti in range(self.T):
            maxlen = max(maxlen, self.th_len[ti])
        self.cw = (maxlen + 7) // 8
        free(self.cand)
        free(self.compat)
        self.cand = <char *> calloc(max(1, self.E), 1)
        self.compat = <unsigned char *> calloc(max(1, self.E * self.T * self.cw), 1)
        if not self.cand or not self.compat:
            raise MemoryError()
        cands = []
        for ti in range(self.T):
            row = red.compatible[ti]
            if any(c is not None for c in row):
                cands.append(ti)
            for pc in range(min(len(row), self.th_len[ti])):
                comp = row[pc]
                if comp is None:
                    continue
                e = self.th_base[ti] + pc
                self.cand[e] = 1
                for tj in range(self.T):
                    mask = comp[tj]
                    for bit in range(self.th_len[tj]):
                        if (mask >> bit) & 1:
                            self.compat[(e * self.T + tj) * self.cw + (bit >> 3)] |= <unsigned char> (1 << (bit & 7))
        self.cand_threads = cands
        self.reduced = True

    # -- the full graph, for the progress properties (verifier/progress.py) ------------------------
    def record_graph(self):
        """Make `run` (unreduced, no canonicalisation) record every edge and check nothing: no
        invariants, no deadlocks, no final predicates (the safety search has done that). After a run
        that returned HOLDS the graph is complete: `graph_edges`, `graph_violates`."""
        if self.reduced or self.canon is not None:
            raise ValueError("the graph is recorded by the plain unreduced search")
        self.graph_mode = True
        self.has_inv = False

    cdef int graph_offset(self, Py_ssize_t i) except -1:
        cdef uint32_t *p
        cdef Py_ssize_t cap = self.g_off_cap
        if i + 1 > cap:
            cap = max(1024, 2 * cap, i + 1)
            p = <uint32_t *> realloc(self.g_off, cap * 4)
            if not p:
                raise MemoryError()
            self.g_off = p
            self.g_off_cap = cap
        if self.g_n > 0xFFFFFFFE:
            raise OverflowError("more than 2^32 - 2 edges in the progress graph")
        self.g_off[i] = <uint32_t> self.g_n
        return 0

    cdef inline int add_edge(self, Py_ssize_t eid, Py_ssize_t dst) except -1:
        cdef uint32_t *a
        cdef uint32_t *b
        cdef Py_ssize_t cap
        if self.g_n == self.g_cap:
            cap = max(4096, 2 * self.g_cap)
            a = <uint32_t *> realloc(self.g_ent, cap * 4)
            if not a:
                raise MemoryError()
            self.g_ent = a
            b = <uint32_t *> realloc(self.g_dst, cap * 4)
            if not b:
                raise MemoryError()
            self.g_dst = b
            self.g_cap = cap
        self.g_ent[self.g_n] = <uint32_t> eid
        self.g_dst[self.g_n] = <uint32_t> dst
        self.g_n += 1
        return 0

    def graph_size(self):
        """(states, edges) of the recorded graph."""
        return self.store.n, self.g_n

    def graph_edges(self):
        """Per state, its out-edges [(thread, pc, target index)] in the search's order."""
        cdef Py_ssize_t i, e, eid, t
        out = []
        for i in range(self.store.n):
            row = []
            for e in range(self.g_off[i], self.g_off[i + 1]):
                eid = self.g_ent[e]
                t = self.ent_thread[eid]
                row.append((t, eid - self.th_base[t], <Py_ssize_t> self.g_dst[e]))
            out.append(row)
        return out

    def graph_violates(self, Py_ssize_t alive_thread, Py_ssize_t done_pc, banned, bint stuck):
        """Whether a progress property has a counterexample on the recorded graph (the decision of
        progress._check_one, which then builds the lasso): restrict the graph to the states where
        thread `alive_thread` (>= 0) is not at `done_pc` and to the edges whose (thread, pc) is not
        in `banned`; from state 0, look for a stuck state (no edge at all; when `stuck`) or a
        strongly connected component with an internal edge that is fair: every thread has an
        internal edge or a state of the component where it has no edge."""
        cdef Py_ssize_t n = self.store.n, W = self.W, T = self.T
        cdef Py_ssize_t i, i2, s, v, w, e, head, nord, sp, wp, cnt, counter, ncomp, needs, t
        cdef bint internal, adv
        cdef unsigned char *alive = NULL
        cdef unsigned char *ban = NULL
        cdef unsigned char *seen = NULL
        cdef unsigned char *on_stack = NULL
        cdef unsigned char *need = NULL
        cdef unsigned char *en = NULL
        cdef uint32_t *order = NULL
        cdef int64_t *index = NULL
        cdef int64_t *low = NULL
        cdef int64_t *cid = NULL
        cdef uint32_t *stack = NULL
        cdef uint32_t *wv = NULL
        cdef uint32_t *we = NULL
        cdef uint64_t *stt = self.store.states
        if n == 0:
            return False
        try:
            alive = <unsigned char *> malloc(n)
            ban = <unsigned char *> calloc(max(1, self.E), 1)
            seen = <unsigned char *> calloc(n, 1)
            on_stack = <unsigned char *> calloc(n, 1)
            need = <unsigned char *> calloc(max(1, T), 1)
            en = <unsigned char *> calloc(max(1, T), 1)
            order = <uint32_t *> malloc(n * 4)
            index = <int64_t *> malloc(n * 8)
            low = <int64_t *> malloc(n * 8)
            cid = <int64_t *> malloc(n * 8)
            stack = <uint32_t *> malloc(n * 4)
            wv = <uint32_t *> malloc(n * 4)
            we = <uint32_t *> malloc(n * 4)
            if not (alive and ban and seen and on_stack and need and en and order and index and low
                    and cid and stack and wv and we):
                raise MemoryError()
            for tt, pc in banned:
                if 0 <= tt < T and 0 <= pc < self.th_len[tt]:
                    ban[self.th_base[tt] + pc] = 1
            for s in range(n):
                alive[s] = 1
                if alive_thread >= 0 and <Py_ssize_t> extract(stt + s * W, self.th_shift[alive_thread],
                                                               self.th_mask[alive_thread]) == done_pc:
                    alive[s] = 0
                index[s] = -1
                cid[s] = -1
            if not alive[0]:
                return False
            # the restricted reachable subgraph, breadth-first
            seen[0] = 1
            order[0] = 0
            nord = 1
            head = 0
            while head < nord:
                s = order[head]
                head += 1
                if stuck and self.g_off[s] == self.g_off[s + 1]:
                    return True                     # nobody can move: the step never fires
                for e in range(self.g_off[s], self.g_off[s + 1]):
                    w = self.g_dst[e]
                    if ban[self.g_ent[e]] or not alive[w] or seen[w]:
                        continue
                    seen[w] = 1
                    order[nord] = <uint32_t> w
                    nord += 1
            # Tarjan's strongly connected components of the restricted subgraph, iteratively
            counter = 0
            ncomp = 0
            sp = 0
            for i in range(nord):
                s = order[i]
                if index[s] >= 0:
                    continue
                wp = 0
                wv[wp] = <uint32_t> s
                we[wp] = self.g_off[s]
                wp = 1
                index[s] = low[s] = counter
                counter += 1
                stack[sp] = <uint32_t> s
                sp += 1
                on_stack[s] = 1
                while wp:
                    v = wv[wp - 1]
                    adv = False
                    while we[wp - 1] < self.g_off[v + 1]:
                        e = we[wp - 1]
                        we[wp - 1] += 1
                        w = self.g_dst[e]
                        if ban[self.g_ent[e]] or not alive[w]:
                            continue
                        if index[w] < 0:
                            index[w] = low[w] = counter
                            counter += 1
                            stack[sp] = <uint32_t> w
                            sp += 1
                            on_stack[w] = 1
                            wv[wp] = <uint32_t> w
                            we[wp] = self.g_off[w]
                            wp += 1
                            adv = True
                            break
                        if on_stack[w] and index[w] < low[v]:
                            low[v] = index[w]
                    if adv:
                        continue
                    wp -= 1
                    if wp:
                        w = wv[wp - 1]
                        if low[v] < low[w]:
                            low[w] = low[v]
                    if low[v] != index[v]:
                        continue
                    # a component: the stack from v up; mark it
                    cnt = sp
                    while True:
                        sp -= 1
                        w = stack[sp]
                        on_stack[w] = 0
                        cid[w] = ncomp
                        if w == v:
                            break
                    # its internal edges, by thread; then a state for each thread without one
                    internal = False
                    memset(need, 1, T)
                    needs = T
                    for i2 in range(sp, cnt):
                        w = stack[i2]
                        for e in range(self.g_off[w], self.g_off[w + 1]):
                            if ban[self.g_ent[e]] or not alive[self.g_dst[e]] or cid[self.g_dst[e]] != ncomp:
                                continue
                            internal = True
                            t = self.ent_thread[self.g_ent[e]]
                            if need[t]:
                                need[t] = 0
                                needs -= 1
                    if internal:
                        for i2 in range(sp, cnt):
                            if not needs:
                                break
                            w = stack[i2]
                            memset(en, 0, T)
                            for e in range(self.g_off[w], self.g_off[w + 1]):
                                en[self.ent_thread[self.g_ent[e]]] = 1
                            for t in range(T):
                                if need[t] and not en[t]:
                                    need[t] = 0
                                    needs -= 1
                        if not needs:
                            return True
                    ncomp += 1
            return False
        finally:
            free(alive)
            free(ban)
            free(seen)
            free(on_stack)
            free(need)
            free(en)
            free(order)
            free(index)
            free(low)
            free(cid)
            free(stack)
            free(wv)
            free(we)

    # -- the search -------------------------------------------------------------------------------
    def run(self, initial, Py_ssize_t limit, Py_ssize_t max_depth, bint counting, terminal, checkpoint):
        """The breadth-first search from packed state `initial` (reduced after set_reduction).
        limit: max states (-1: none); max_depth (-1: none); terminal(s) -> violation or None for a
        state where every thread has finished; checkpoint(transitions, depth) every 4096 expansions
        (and when the store outgrew the limit), which may raise to stop the search."""
        cdef Store st = self.store
        cdef Py_ssize_t W, i, t, j, k, lo, hi, off, eid, slot, idx, pcj, tj
        cdef Py_ssize_t depth = 0, expanded = 0, r
        cdef uint64_t transitions = 0, before, pc
        cdef uint64_t h
        cdef uint64_t *cur
        cdef uint64_t *nxt
        cdef uint64_t *cl
        cdef uint64_t *sb
        cdef bint is_done, ample_found, ok
        cdef Py_ssize_t lim = limit if limit >= 0 else MAX_STATES
        cdef Py_ssize_t ngroups
        cdef Py_ssize_t groups[64]
        cdef Py_ssize_t *gp
        cands = self.cand_threads if self.reduced else []
        if self.T <= 64:
            gp = &groups[0]
        else:
            gp = <Py_ssize_t *> malloc(self.T * sizeof(Py_ssize_t))
        if not gp:
            raise MemoryError()
        try:
            W = self.W
            st.from_int(initial, self.buf + 3 * W + 2)
            nxt = self.buf + 3 * W + 2
            if self.canon is not None:
                self.canonical(nxt)
            st.insert_at(st.find_slot(nxt, hash_words(nxt, W)), nxt, -1)
            if self.has_inv:
                r = self.inv_check(self.buf + 3 * W + 2)
                if r:
                    return (INVARIANT, r - 1, 0, -1, 0, 0, 0)
            lo, hi = 0, st.n
            while lo < hi:
                if max_depth >= 0 and depth > max_depth:
                    return (BOUND_DEPTH, transitions, depth)
                for i in range(lo, hi):
                    if self.graph_mode:
                        self.graph_offset(i)
                    W = self.W
                    cur = self.buf
                    memcpy(cur, st.states + i * W, W * 8)
                    before = transitions
                    ngroups = 0
                    ample_found = False
                    # the ample set: the first candidate thread whose step is independent of the
                    # others' futures (C1, C2 by construction), enabled (C0) and whose successors
                    # are all new (C3, the breadth-first proviso)
                    for t in cands:
                        pc = extract(cur, self.th_shift[t], self.th_mask[t])
                        eid = self.th_base[t] + <Py_ssize_t> pc
                        if not self.cand[eid]:
                            continue
                        ok = True
                        for tj in range(self.T):
                            if tj == t:
                                continue
                            pcj = <Py_ssize_t> extract(cur, self.th_shift[tj], self.th_mask[tj])
                            if not (self.compat[(eid * self.T + tj) * self.cw + (pcj >> 3)] >> (pcj & 7)) & 1:
                                ok = False
                                break
                        if not ok:
                            continue
                        off = self.outcomes(eid)
                        W = self.W
                        cur = self.buf
                        k = <Py_ssize_t> self.pool[off]
                        if k == 0:
                            continue
                        nxt = self.buf + 3 * W + 2
                        for j in range(k):
                            cl = self.pool + off + 1 + 2 * W * j
                            sb = cl + W
                            for idx in range(W):
                                nxt[idx] = (cur[idx] & cl[idx]) | sb[idx]
                            if self.canon is not None:
                                self.canonical(nxt)
                                cur = self.buf
                            if st.table[st.find_slot(nxt, hash_words(nxt, W))]:
                                break
                        else:
                            ample_found = True
                            self.reduced_expansions += 1
                            gp[0] = eid
                            ngroups = 1
                            break
                    if not ample_found:
                        for t in range(self.T):
                            W = self.W
                            pc = extract(self.buf, self.th_shift[t], self.th_mask[t])
                            eid = self.th_base[t] + <Py_ssize_t> pc
                            if self.ent_valid[eid]:
                                gp[ngroups] = eid
                                ngroups += 1
                        if self.reduced:
                            # the reduced Python loop asks every thread's step before it stores any
                            # successor: the model's misses (and its errors) come in that order
                            for t in range(ngroups):
                                self.outcomes(gp[t])
                    for t in range(ngroups):
                        eid = gp[t]
                        off = self.outcomes(eid)
                        W = self.W
                        cur = self.buf
                        k = <Py_ssize_t> self.pool[off]
                        if k == 0:
                            continue
                        transitions += k
                        if counting:
                            self.ent_count[eid] += k
                        for j in range(k):
                            nxt = self.buf + 3 * W + 2
                            cl = self.pool + off + 1 + 2 * W * j
                            sb = cl + W
                            for idx in range(W):
                                nxt[idx] = (cur[idx] & cl[idx]) | sb[idx]
                            if self.canon is not None:
                                self.canonical(nxt)
                            h = hash_words(nxt, W)
                            slot = st.find_slot(nxt, h)
                            if st.table[slot]:
                                if self.graph_mode:
                                    self.add_edge(eid, st.table[slot] - 1)
                                continue
                            if st.n >= lim:
                                return (BOUND_STATES,)
                            idx = st.insert_at(slot, nxt, i)
                            if self.graph_mode:
                                self.add_edge(eid, idx)
                            if self.has_inv:
                                r = self.inv_check(st.states + idx * W)
                                if r:
                                    # transitions up to this one, as the Python loops count them
                                    return (INVARIANT, r - 1, idx, i, transitions - k + j + 1, depth, hi)
                    if transitions == before and not ample_found and not self.graph_mode:
                        is_done = True
                        cur = self.buf
                        for idx in range(self.W):
                            if (cur[idx] & self.pc_mask[idx]) != self.done_bits[idx]:
                                is_done = False
                                break
                        if not is_done:
                            return (DEADLOCK, i, transitions, depth)
                        bad = terminal(st.to_int(cur))
                        if bad is not None:
                            return (TERMINAL, bad, i, transitions, depth)
                    expanded += 1
                    if not expanded & 0xFFF or st.n > lim:
                        checkpoint(transitions, depth)
                lo, hi = hi, st.n
                if lo < hi:
                    depth += 1
            if self.graph_mode:
                self.graph_offset(st.n)
            return (HOLDS, transitions, depth)
        finally:
            if gp != &groups[0]:
                free(gp)

