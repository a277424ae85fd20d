"""Packed states for the unreduced search: one Python int per state.

Every field value is interned per field (a small code, in order of first appearance; a declared
domain is interned up front in its order), and a state is the codes of its fields and program
counters side by side in one integer. Hashing and comparing an int of a hundred bits is a few
machine words, and a stored state costs one int object and one dict entry.

A step's outcomes depend only on the values of the fields it reads (see model.StepCode), so its
memo is keyed by `state & read_mask`, and an outcome is stored as a pair (clear, set): the
successor is `(state & clear) | set`. Invariants are memoised the same way by the union of their
reads. A memo miss decodes only the read fields, runs the step on a view of them and encodes the
outcome.

A field whose values outgrow its bits gets a new segment of bits above every field (its code is
split over its segments, low bits first). Codes are never renumbered and every stored state has
zeros in the new segment, so no stored state changes meaning; the masks are rebuilt and the memos
cleared. The layout never changes the result: the search visits the same states in the same order
as the tuple search, so verdicts, counts and traces are the same.
"""

from __future__ import annotations

from .model import CompiledModel, ModelError

MEMO_LIMIT = 1 << 17          # entries per memo; beyond it, outcomes are computed without storing


class PackedModel:
    def __init__(self, cm: CompiledModel):
        self.cm = cm
        nf = len(cm.fields)
        self.nslots = nf + len(cm.threads)
        self.values: list[list] = []
        self.codes: list[dict] = []
        self.segs: list[list[tuple[int, int]]] = []
        top = 0
        # program counters first (lowest bits): their layout never changes
        order = list(range(nf, self.nslots)) + list(range(nf))
        slot_values: list[list] = [[] for _ in range(self.nslots)]
        for i, f in enumerate(cm.fields):
            slot_values[i] = list(dict.fromkeys(f.domain if f.domain is not None else (f.init,)))
        for ti, t in enumerate(cm.threads):
            slot_values[nf + ti] = list(range(len(t.steps) + 1))
        # the slots of one orbit of a symmetry (verifier/symmetry.py) share their value codes, so a
        # permutation moves codes between them unchanged; a class widens as a whole
        self.share: dict[int, tuple] = {}
        for cls in (cm.symmetry.classes if cm.symmetry is not None else ()):
            for i in cls:
                slot_values[i] = slot_values[cls[0]]
                self.share[i] = cls
        self.on_widen: list = []      # callbacks after a field widened (the symmetry canonicaliser)
        self.segs = [[] for _ in range(self.nslots)]
        for i in order:
            # an undeclared domain starts with room for 4 values (most fields of mm models need
            # 2-4), a declared one with just enough bits
            w = max(1 if i >= nf or cm.fields[i].domain is not None else 2,
                    (len(slot_values[i]) - 1).bit_length())
            self.segs[i].append((top, w))
            top += w
        self.top = top
        self.values = slot_values
        tables: dict[int, dict] = {}
        self.codes = [tables.setdefault(id(vals), {v: c for c, v in enumerate(vals)}) for vals in slot_values]
        self.version = 0
        # per thread: (shift, mask, entries by pc); an entry is [read mask, memo, miss, transitions
        # counted for coverage, memo.get]
        self.threads = []
        self._entries = []
        for ti, codes in enumerate(cm.code):
            entries = []
            for sc in codes:
                memo: dict = {}
                e = [0, memo, None, 0, memo.get]
                e[2] = self._make_miss(sc, e)
                entries.append(e)
                self._entries.append((sc, e))
            pci = cm.pc_index[ti]
            (sh, w), = self.segs[pci]
            self.threads.append((sh, (1 << w) - 1, entries + [None]))
        self.inv_reads = tuple(sorted({cm.index[n] for inv in cm.invariants for n in inv.reads}))
        names = [cm.field_names[i] for i in self.inv_reads]
        from .model import _view_class
        self.InvView = _view_class("invariant_view", names)
        self.inv = [0, {}]
        self.readers = [[] for _ in range(self.nslots)]       # entries whose read mask has the slot
        for sc, e in self._entries:
            for i in sc.read_idx:
                self.readers[i].append(e)
        self.inv_read_set = frozenset(self.inv_reads)
        self._rebuild()
        self.pc_mask = 0
        self.done_bits = 0
        for ti, pci in enumerate(cm.pc_index):
            self.pc_mask |= self.slot_mask(pci)
            self.done_bits |= self.encode_code(pci, cm.done_pc[ti])
        self.initial = self.pack(cm.initial)

    # -- layout -------------------------------------------------------------------------------
    def slot_mask(self, slot: int) -> int:
        m = 0
        for sh, w in self.segs[slot]:
            m |= ((1 << w) - 1) << sh
        return m

    def encode_code(self, slot: int, code: int) -> int:
        d = self._dec[slot]
        if d is not None:
            return code << d[0]
        bits = off = 0
        for sh, w in self.segs[slot]:
            bits |= ((code >> off) & ((1 << w) - 1)) << sh
            off += w
        return bits

    def code_of(self, slot: int, value) -> int:
        codes = self.codes[slot]
        try:
            c = codes.get(value)
        except TypeError:
            raise ModelError(f"field {self.cm.field_names[slot]}: value {value!r} is not hashable") from None
        if c is None:
            vals = self.values[slot]
            c = codes[value] = len(vals)
            vals.append(value)
            for sl in self.share.get(slot, (slot,)):
                if c > self.cap[sl]:
                    self._widen(sl)
        return c

    def _widen(self, slot: int) -> None:
        w = sum(w for _, w in self.segs[slot])
        old = self.masks[slot]
        new_seg = ((1 << w) - 1) << self.top
        self.segs[slot].append((self.top, w))
        self.top += w
        self.version += 1
        self.masks[slot] |= new_seg
        self.cap[slot] = (1 << (2 * w)) - 1
        self._dec[slot] = None
        self._unpack_fast = None
        if slot in self.inv_read_set:
            self._inv_fast = None
        for e in self.readers[slot]:
            e[0] |= new_seg
        if slot in self.inv_read_set:
            self.inv[0] |= new_seg
        # A memo key is still right (stored states have zeros in the new bits), and so is an
        # outcome's set part (its codes fit the old bits); an outcome that writes the field must
        # also clear the new bits.
        for sc, e in self._entries:
            if slot in sc.write_slots and e[1]:
                memo = e[1]
                for key, outs in memo.items():
                    memo[key] = tuple((clear & ~new_seg if ~clear & old else clear, setb)
                                      for clear, setb in outs)
        for hook in self.on_widen:
            hook()

    def _rebuild(self) -> None:
        """Masks and decoders from the current layout."""
        self.masks = [self.slot_mask(i) for i in range(self.nslots)]
        self.cap = [(1 << sum(w for _, w in segs)) - 1 for segs in self.segs]
        self._dec = [(segs[0][0], (1 << segs[0][1]) - 1) if len(segs) == 1 else None for segs in self.segs]
        # the invariants' view decoded in one comprehension while their fields have one segment each
        self._inv_fast = [(self._dec[i][0], self._dec[i][1], self.values[i]) for i in self.inv_reads]
        self._unpack_fast = None          # built by unpack
        masks = self.masks
        for sc, e in self._entries:
            m = 0
            for i in sc.read_idx:
                m |= masks[i]
            e[0] = m
        m = 0
        for i in self.inv_reads:
            m |= masks[i]
        self.inv[0] = m

    def decode(self, s: int, slot: int):
        d = self._dec[slot]
        if d is not None:
            return self.values[slot][(s >> d[0]) & d[1]]
        code = off = 0
        for sh, w in self.segs[slot]:
            code |= ((s >> sh) & ((1 << w) - 1)) << off
            off += w
        return self.values[slot][code]

    def pack(self, state) -> int:
        codes = [self.code_of(i, v) for i, v in enumerate(state)]
        return sum(self.encode_code(i, c) for i, c in enumerate(codes))

    def unpack(self, s: int):
        fast = self._unpack_fast
        if fast is None:
            fast = self._unpack_fast = self.fast_decoder(range(self.nslots))
        decode = self.decode
        return tuple.__new__(self.cm.State, [v[(s >> sh) & m] if v is not None else decode(s, sh)
                                             for sh, m, v in fast])

    def fast_decoder(self, slots) -> list:
        """[(shift, mask, values)] for `slots`: a state's code for a slot of one segment is
        `(s >> shift) & mask`, an index into `values` (which only grows); a slot of several segments
        is (slot, 0, None): decode it with `decode`. Valid while `version` does not change."""
        dec = self._dec
        return [(dec[i][0], dec[i][1], self.values[i]) if dec[i] is not None else (i, 0, None)
                for i in slots]

    # -- memo misses ----------------------------------------------------------------------------
    def _make_miss(self, sc, entry):
        new = tuple.__new__
        View = sc.View
        ridx = sc.read_idx
        decode = self.decode

        code_of = self.code_of
        encode_code = self.encode_code

        if not sc.memoise:                  # the step runs on the whole state, every time
            unpack = self.unpack

            def miss(s: int) -> tuple:
                outs = sc.raw_outcomes(unpack(s))
                coded = [[(i, code_of(i, v)) for i, v in w] for w in outs]
                masks = self.masks
                enc = []
                for w in coded:
                    clear = setb = 0
                    for i, c in w:
                        clear |= masks[i]
                        setb |= encode_code(i, c)
                    enc.append((~clear, setb))
                return tuple(enc)

            return miss

        fast = [None, -1]           # the read fields' decoder, for layout version fast[1]

        def miss(s: int) -> tuple:
            if fast[1] != self.version:
                fast[0], fast[1] = self.fast_decoder(ridx), self.version
            outs = sc.outcomes(new(View, [v[(s >> sh) & m] if v is not None else decode(s, sh)
                                          for sh, m, v in fast[0]]))
            coded = [[(i, code_of(i, v)) for i, v in w] for w in outs]   # may widen
            masks = self.masks
            enc = []
            for w in coded:
                clear = setb = 0
                for i, c in w:
                    clear |= masks[i]
                    setb |= encode_code(i, c)
                enc.append((~clear, setb))
            enc = tuple(enc)
            memo = entry[1]
            if len(memo) < MEMO_LIMIT:
                memo[s & entry[0]] = enc
            return enc

        return miss

    def inv_miss(self, s: int):
        """True when every invariant holds at `s`, else the first that breaks."""
        fast = self._inv_fast
        if fast is not None:
            vals = [v[(s >> sh) & m] for sh, m, v in fast]
        else:
            vals = [self.decode(s, i) for i in self.inv_reads]
        view = tuple.__new__(self.InvView, vals)
        res = True
        for inv in self.cm.invariants:
            try:
                ok = inv.fn(view)
            except AttributeError as e:
                if getattr(e, "name", None) in self.cm.index:
                    raise ModelError(f"invariant {inv.name}: reads field {e.name!r} outside its declared "
                                     f"reads") from None
                raise
            if not ok:
                res = inv
                break
        memo = self.inv[1]
        if len(memo) < MEMO_LIMIT:
            memo[s & self.inv[0]] = res
        return res
