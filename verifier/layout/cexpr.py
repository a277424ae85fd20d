"""C expression front end: tokenizer, macro expansion, parser and an interpreter with C semantics.

The interpreter is generic over a back end (backends.PyBackend for plain integers,
backends.Z3Backend for bit-vector terms), so both evaluate the same AST with the same typing
rules; only the primitive bit operations differ.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

from .ctypes_ import (BASE_KEYWORDS, IntType, StructType, canonical_specifiers, promote,
                      usual_arithmetic)
from .errors import LayoutError, UndefinedBehaviour

# Bounded work on any input (a layout file is user input): explicit limits, each an error naming
# the field and column (exit 2), far above what a kernel header needs (all 46 shipped layouts, loaded
# and proved, reach nesting 33, expansion depth 9, 192 tokens and tree depth 17; the limits are
# tested in tests/test_layout_limits.py). With them, the recursive parts (macro expansion, the
# parser's descent, the evaluator shared by the plain and Z3
# back ends) recurse at most ~4,000 Python frames deep, so the recursion limit is raised to cover
# that (Python 3.11 runs Python-to-Python calls without C recursion).
MAX_EXPANSION_DEPTH = 256          # macros/constants expanded inside one another, arguments included
MAX_EXPANSION_TOKENS = 200_000     # tokens one expansion may produce (exponential macros stop here)
MAX_NESTING = 256                  # parentheses, casts and unary operators nested in an expression
MAX_AST_DEPTH = 1000               # depth of the expression tree (long operator chains nest too)
if sys.getrecursionlimit() < 8000:
    sys.setrecursionlimit(8000)

# ---------------------------------------------------------------------------------------------
# Tokens

_TOKEN_RE = re.compile(r"""
   (?P<ws>\s+|/\*.*?\*/|//[^\n]*)
  |(?P<num>[0-9][0-9A-Za-z_]*)
  |(?P<id>[A-Za-z_][A-Za-z0-9_]*)
  |(?P<punct>\#\#|<<|>>|<=|>=|==|!=|&&|\|\||->|[-+*/%~!&|^<>?:(){}\[\],.\#=;])
""", re.X | re.S)


class Token:
    __slots__ = ("kind", "text", "field", "col")

    def __init__(self, kind: str, text: str, field: str | None, col: int):
        self.kind = kind      # 'num', 'id', 'punct', 'end'
        self.text = text
        self.field = field    # e.g. '[macros] "__swp_offset(x)"': where the token was written
        self.col = col        # 1-based column in that field's text

    def __repr__(self) -> str:
        return f"Token({self.kind}, {self.text!r}, {self.col})"

    def error(self, message: str) -> LayoutError:
        return LayoutError(message, field=self.field, column=self.col)


def tokenize(text: str, field: str | None, col_offset: int = 0) -> list[Token]:
    out = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m:
            raise LayoutError(f"unexpected character {text[pos]!r}", field=field,
                              column=pos + 1 + col_offset)
        kind = m.lastgroup
        if kind != "ws":
            out.append(Token(kind, m.group(), field, pos + 1 + col_offset))
        pos = m.end()
    return out


# ---------------------------------------------------------------------------------------------
# Integer literals

_INT_RE = re.compile(r"(0[xX][0-9a-fA-F]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)([uUlL]*)")
_SUFFIXES = {"": "", "u": "u", "l": "l", "ll": "ll", "ul": "ul", "lu": "ul", "ull": "ull",
             "llu": "ull"}


def literal_type(text: str, types: dict, tok: Token | None = None) -> tuple[int, IntType]:
    """Value and C type of an integer literal (C11 6.4.4.1)."""
    m = _INT_RE.fullmatch(text)
    err = (tok.error if tok else LayoutError)
    if not m:
        raise err(f"invalid integer literal {text!r}")
    digits, suffix = m.groups()
    if "lL" in suffix or "Ll" in suffix:
        raise err(f"invalid integer suffix in {text!r} (ll must be one case)")
    key = suffix.lower()
    if key not in _SUFFIXES:
        raise err(f"invalid integer suffix in {text!r}")
    key = _SUFFIXES[key]
    if digits[:2] in ("0x", "0X"):
        value, decimal = int(digits[2:], 16), False
    elif digits[:2] in ("0b", "0B"):
        value, decimal = int(digits[2:], 2), False
    elif digits.startswith("0"):
        value, decimal = int(digits, 8), False
    else:
        value, decimal = int(digits), True
    u = "unsigned "
    candidates = {
        "": ["int", "long", "long long"] if decimal else
            ["int", u + "int", "long", u + "long", "long long", u + "long long"],
        "u": [u + "int", u + "long", u + "long long"],
        "l": ["long", "long long"] if decimal else ["long", u + "long", "long long", u + "long long"],
        "ul": [u + "long", u + "long long"],
        "ll": ["long long"] if decimal else ["long long", u + "long long"],
        "ull": [u + "long long"],
    }[key]
    for name in candidates:
        t = types[name]
        limit = 1 << (t.bits - 1 if t.signed else t.bits)
        if value < limit:
            return value, t
    raise err(f"integer literal {text!r} is too large for any C integer type")


# ---------------------------------------------------------------------------------------------
# Macro expansion

@dataclass
class MacroDef:
    name: str
    params: list[str]
    param_types: list[str | None]   # C type text of each parameter when the key is a prototype
    return_type: str | None
    body: list[Token]
    field: str


@dataclass
class ConstDef:
    name: str
    body: list[Token]
    field: str


class Expander:
    """Token-level expansion of the file's constants and function-like macros, as cpp does
    (arguments are expanded before substitution, ## pastes unexpanded arguments, the result is
    rescanned), except that a macro reaching itself is an error rather than left unexpanded, and
    an identifier right after '.' is a member name or designator and is never expanded."""

    def __init__(self, constants: dict[str, ConstDef], macros: dict[str, MacroDef]):
        self.constants = constants
        self.macros = macros
        self._depth = 0

    def expand(self, tokens: list[Token], active: tuple = ()) -> list[Token]:
        if self._depth >= MAX_EXPANSION_DEPTH:
            at = tokens[0] if tokens else None
            raise LayoutError(f"macro expansion nested deeper than {MAX_EXPANSION_DEPTH} levels",
                              field=at.field if at else None, column=at.col if at else None)
        self._depth += 1
        try:
            return self._expand(tokens, active)
        finally:
            self._depth -= 1

    def _expand(self, tokens: list[Token], active: tuple) -> list[Token]:
        out: list[Token] = []
        i = 0
        n = len(tokens)
        while i < n:
            tok = tokens[i]
            if tok.kind != "id" or (out and out[-1].text == "." and out[-1].kind == "punct"):
                out.append(tok)
                i += 1
                continue
            name = tok.text
            if name in self.constants:
                if name in active:
                    raise tok.error(f"macro cycle: {' -> '.join(active[active.index(name):] + (name,))}")
                out.extend(self.expand(self.constants[name].body, active + (name,)))
                self._budget(out, tok)
                i += 1
                continue
            if name in self.macros:
                if i + 1 < n and tokens[i + 1].text == "(":
                    if name in active:
                        raise tok.error(
                            f"macro cycle: {' -> '.join(active[active.index(name):] + (name,))}")
                    args, i = self._collect_args(tokens, i + 1, tok)
                    out.extend(self.expand(self._substitute(self.macros[name], args, tok, active),
                                           active + (name,)))
                    self._budget(out, tok)
                    continue
                raise tok.error(f"function-like macro '{name}' used without arguments")
            out.append(tok)
            i += 1
        return out

    @staticmethod
    def _budget(out: list, tok: Token) -> None:
        if len(out) > MAX_EXPANSION_TOKENS:
            raise tok.error(f"macro expansion of '{tok.text}' exceeds {MAX_EXPANSION_TOKENS:,} tokens "
                            f"(a macro that doubles its input at every level?)")

    @staticmethod
    def _collect_args(tokens, i, name_tok):
        """tokens[i] is '('; returns (list of argument token lists, index after ')')."""
        depth = 0
        args: list[list[Token]] = [[]]
        j = i
        while j < len(tokens):
            t = tokens[j]
            if t.text in ("(", "{", "["):
                depth += 1
                if depth > 1:
                    args[-1].append(t)
            elif t.text in (")", "}", "]"):
                depth -= 1
                if depth == 0:
                    return args, j + 1
                args[-1].append(t)
            elif t.text == "," and depth == 1:
                args.append([])
            else:
                args[-1].append(t)
            j += 1
        raise name_tok.error(f"unterminated argument list of '{name_tok.text}'")

    def _substitute(self, m: MacroDef, args, call_tok: Token, active) -> list[Token]:
        if len(args) == 1 and not args[0] and not m.params:
            args = []
        if len(args) != len(m.params):
            raise call_tok.error(f"'{m.name}' takes {len(m.params)} argument(s), given {len(args)}")
        raw = dict(zip(m.params, args))
        expanded: dict[str, list[Token]] = {}

        def arg_tokens(p: str, tok: Token, pasted: bool) -> list[Token]:
            if pasted:
                return raw[p]
            if p not in expanded:
                expanded[p] = self.expand(raw[p], active)
            toks = expanded[p]
            idx = m.params.index(p)
            ptype = m.param_types[idx]
            if ptype is None:
                return toks
            # a typed parameter of an inline function: the argument converted to its type
            return self._wrap_cast(ptype, toks, tok)

        body = m.body
        out: list[Token] = []
        i = 0
        while i < len(body):
            t = body[i]
            if t.text == "#" and t.kind == "punct":
                raise t.error("the # (stringify) operator is not supported")
            if t.text == "##" and t.kind == "punct":
                if not out or i + 1 >= len(body):
                    raise t.error("'##' at the edge of a macro body")
                nxt = body[i + 1]
                rhs = raw[nxt.text] if (nxt.kind == "id" and nxt.text in raw) else [nxt]
                if rhs:
                    lhs = out.pop()
                    pasted = tokenize(lhs.text + rhs[0].text, lhs.field)
                    if len(pasted) != 1:
                        raise t.error(f"pasting {lhs.text!r} and {rhs[0].text!r} does not give a token")
                    out.append(Token(pasted[0].kind, pasted[0].text, lhs.field, lhs.col))
                    out.extend(rhs[1:])
                i += 2
                continue
            if t.kind == "id" and t.text in raw and not (out and out[-1].text == "."):
                pasted = i + 1 < len(body) and body[i + 1].text == "##"
                out.extend(arg_tokens(t.text, t, pasted))
                self._budget(out, call_tok)
            else:
                out.append(t)
            i += 1
        if m.return_type is not None:
            out = self._wrap_cast(m.return_type, out, call_tok)
        return out

    @staticmethod
    def _wrap_cast(ctype: str, toks: list[Token], at: Token) -> list[Token]:
        f, c = at.field, at.col
        head = [Token("punct", "(", f, c), Token("punct", "(", f, c)]
        head += [Token("id", w, f, c) for w in ctype.split()]
        head += [Token("punct", ")", f, c), Token("punct", "(", f, c)]
        return head + toks + [Token("punct", ")", f, c), Token("punct", ")", f, c)]


# ---------------------------------------------------------------------------------------------
# AST

class Node:
    __slots__ = ("tok",)


class Num(Node):
    __slots__ = ("value", "ctype")

    def __init__(self, tok, value, ctype):
        self.tok, self.value, self.ctype = tok, value, ctype


class Var(Node):
    __slots__ = ("name",)

    def __init__(self, tok, name):
        self.tok, self.name = tok, name


class Unary(Node):
    __slots__ = ("op", "e")

    def __init__(self, tok, op, e):
        self.tok, self.op, self.e = tok, op, e


class Binary(Node):
    __slots__ = ("op", "a", "b")

    def __init__(self, tok, op, a, b):
        self.tok, self.op, self.a, self.b = tok, op, a, b


class Cond(Node):
    __slots__ = ("c", "a", "b")

    def __init__(self, tok, c, a, b):
        self.tok, self.c, self.a, self.b = tok, c, a, b


class Cast(Node):
    __slots__ = ("ctype", "e")

    def __init__(self, tok, ctype, e):
        self.tok, self.ctype, self.e = tok, ctype, e


class Member(Node):
    __slots__ = ("e", "name")

    def __init__(self, tok, e, name):
        self.tok, self.e, self.name = tok, e, name


class Compound(Node):
    __slots__ = ("ctype", "inits")   # inits: [(designator name | None, Node, Token)]

    def __init__(self, tok, ctype, inits):
        self.tok, self.ctype, self.inits = tok, ctype, inits


class SizeofType(Node):
    __slots__ = ("ctype",)

    def __init__(self, tok, ctype):
        self.tok, self.ctype = tok, ctype


class SizeofExpr(Node):
    __slots__ = ("e",)

    def __init__(self, tok, e):
        self.tok, self.e = tok, e


# ---------------------------------------------------------------------------------------------
# Parser

_BINARY_LEVELS = [
    ("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", ">", "<=", ">="), ("<<", ">>"),
    ("+", "-"), ("*", "/", "%"),
]
_PRECEDENCE = {op: level for level, ops in enumerate(_BINARY_LEVELS) for op in ops}


class TypeTable:
    """Resolves type names: C base types, the kernel's fixed-width names, the file's typedefs and
    structs."""

    def __init__(self, base: dict[str, IntType], typedefs: dict[str, IntType],
                 structs: dict[str, StructType]):
        self.base = base
        self.typedefs = typedefs
        self.structs = structs

    def is_type_start(self, tok: Token) -> bool:
        return tok.kind == "id" and (tok.text in BASE_KEYWORDS or tok.text in self.base
                                     or tok.text in self.typedefs or tok.text in self.structs
                                     or tok.text == "struct")


class Parser:
    def __init__(self, tokens: list[Token], types: TypeTable, field: str | None):
        self.toks = tokens
        self.i = 0
        self.types = types
        self.nesting = 0
        end_col = (tokens[-1].col + len(tokens[-1].text)) if tokens else 1
        self.end = Token("end", "<end>", tokens[-1].field if tokens else field, end_col)

    def peek(self, k: int = 0) -> Token:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else self.end

    def next(self) -> Token:
        t = self.peek()
        self.i += 1
        return t

    def expect(self, text: str) -> Token:
        t = self.peek()
        if t.text != text or t.kind == "end":
            raise t.error(f"expected '{text}', found {self._desc(t)}")
        return self.next()

    @staticmethod
    def _desc(t: Token) -> str:
        return "end of expression" if t.kind == "end" else f"'{t.text}'"

    def parse(self) -> Node:
        if not self.toks:
            raise self.end.error("empty expression")
        e = self.expr()
        t = self.peek()
        if t.kind != "end":
            raise t.error(f"unexpected {self._desc(t)} after the expression")
        deep = _too_deep(e)
        if deep is not None:
            raise deep.tok.error(f"expression tree deeper than {MAX_AST_DEPTH} levels (a chain of "
                                 f"that many operators?)")
        return e

    def expr(self) -> Node:
        e = self.cond()
        if self.peek().text == ",":
            raise self.peek().error("the comma operator is not supported")
        return e

    def cond(self) -> Node:
        c = self.binary(0)
        if self.peek().text == "?":
            q = self.next()
            a = self.expr()
            self.expect(":")
            b = self.cond()
            return Cond(q, c, a, b)
        return c

    def binary(self, level: int) -> Node:
        """Binary operators of precedence `level` or tighter, left-associative. Precedence
        climbing: a chain `a + b + c` is a loop, and a nesting level costs one frame here rather
        than one per precedence level."""
        a = self.cast()
        while True:
            t = self.peek()
            prec = _PRECEDENCE.get(t.text) if t.kind == "punct" else None
            if prec is None or prec < level:
                return a
            self.next()
            a = Binary(t, t.text, a, self.binary(prec + 1))

    def type_name(self):
        """Parses a type name; returns (type, first token)."""
        first = self.peek()
        words = []
        named = None
        while True:
            t = self.peek()
            if t.kind != "id":
                break
            if t.text in BASE_KEYWORDS:
                words.append(t.text)
                self.next()
            elif t.text == "struct":
                raise t.error("'struct NAME' is not supported: declare the struct in [structs] and use its typedef name")
            elif named is None and not [w for w in words if w not in ("const", "volatile")] and (
                    t.text in self.types.typedefs or t.text in self.types.structs or t.text in self.types.base):
                named = t
                self.next()
            else:
                break
        if self.peek().text == "*":
            raise self.peek().error("pointer types are not supported")
        if named is not None:
            if [w for w in words if w not in ("const", "volatile")]:
                raise named.error(f"invalid type: '{' '.join(words)} {named.text}'")
            n = named.text
            if n in self.types.structs:
                return self.types.structs[n], first
            if n in self.types.typedefs:
                return self.types.typedefs[n], first
            return self.types.base[n], first
        canon = canonical_specifiers(words)
        if canon is None:
            raise first.error(f"invalid type: '{' '.join(words) or first.text}'")
        return self.types.base[canon], first

    def cast(self) -> Node:
        self.nesting += 1
        try:
            if self.nesting > MAX_NESTING:
                raise self.peek().error(f"expression nested deeper than {MAX_NESTING} levels "
                                        f"(parentheses, casts, unary operators)")
            return self._cast()
        finally:
            self.nesting -= 1

    def _cast(self) -> Node:
        t = self.peek()
        if t.text == "(" and t.kind == "punct" and self.types.is_type_start(self.peek(1)):
            self.next()
            ctype, first = self.type_name()
            self.expect(")")
            if self.peek().text == "{":
                return self.postfix(self.compound(ctype, t))
            e = self.cast()
            return Cast(t, ctype, e)
        return self.unary()

    def compound(self, ctype, at: Token) -> Node:
        self.expect("{")
        inits = []
        while self.peek().text != "}":
            t = self.peek()
            designator = None
            if t.text == "." and self.peek(1).kind == "id" and self.peek(2).text == "=":
                self.next()
                designator = self.next().text
                self.next()
            elif t.text == "[":
                raise t.error("array designators are not supported")
            e = self.cond()
            inits.append((designator, e, t))
            if self.peek().text == ",":
                self.next()
            elif self.peek().text != "}":
                raise self.peek().error(f"expected ',' or '}}', found {self._desc(self.peek())}")
        self.expect("}")
        return Compound(at, ctype, inits)

    def unary(self) -> Node:
        t = self.peek()
        if t.kind == "punct" and t.text in ("-", "+", "~", "!"):
            self.next()
            return Unary(t, t.text, self.cast())
        if t.kind == "id" and t.text == "sizeof":
            self.next()
            if self.peek().text == "(" and self.types.is_type_start(self.peek(1)):
                self.next()
                ctype, _ = self.type_name()
                self.expect(")")
                return SizeofType(t, ctype)
            return SizeofExpr(t, self.unary())
        return self.postfix(self.primary())

    def postfix(self, e: Node) -> Node:
        while True:
            t = self.peek()
            if t.text == "." and t.kind == "punct":
                self.next()
                name = self.next()
                if name.kind != "id":
                    raise name.error(f"expected a member name after '.', found {self._desc(name)}")
                e = Member(name, e, name.text)
            elif t.text == "->":
                raise t.error("'->' is not supported: values are not pointers")
            elif t.text == "(" and t.kind == "punct":
                raise t.error("call of something that is not a macro of this file")
            elif t.text == "[":
                raise t.error("array subscripts are not supported")
            else:
                return e

    def primary(self) -> Node:
        t = self.next()
        if t.kind == "num":
            value, ctype = literal_type(t.text, self.types.base, t)
            return Num(t, value, ctype)
        if t.kind == "id":
            if self.types.is_type_start(t):
                raise t.error(f"type name '{t.text}' where an expression is expected")
            if self.peek().text == "(" and self.peek().kind == "punct":
                raise t.error(f"unknown function or macro '{t.text}'")
            return Var(t, t.text)
        if t.text == "(":
            e = self.expr()
            self.expect(")")
            return e
        raise t.error(f"expected an expression, found {self._desc(t)}")


def _children(node: Node) -> list:
    cls = type(node)
    if cls is Binary:
        return [node.a, node.b]
    if cls is Cond:
        return [node.c, node.a, node.b]
    if cls in (Unary, Cast, Member, SizeofExpr):
        return [node.e]
    if cls is Compound:
        return [e for _, e, _ in node.inits]
    return []


def _too_deep(root: Node) -> Node | None:
    """A node deeper than MAX_AST_DEPTH in root's tree, or None (iterative: any depth is safe)."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_AST_DEPTH:
            return node
        stack.extend((c, depth + 1) for c in _children(node))
    return None


# ---------------------------------------------------------------------------------------------
# Interpreter

class Value:
    __slots__ = ("ctype", "v", "ub")

    def __init__(self, ctype, v):
        self.ctype = ctype
        self.v = v

    def __repr__(self) -> str:
        return f"Value({self.ctype}, {self.v})"


class EvalContext:
    """Back end, variable bindings, and (symbolic back end) the undefined-behaviour conditions met,
    each guarded by the path condition under which the operation is evaluated."""

    def __init__(self, backend, env: dict[str, Value], types: dict[str, IntType],
                 symbols: dict[str, Value] | None = None):
        self.be = backend
        self.env = env
        self.types = types
        self.symbols = symbols or {}   # the file's [symbols]: free values (see model.SymbolDef)
        self.path = []
        self.ub: list[tuple] = []   # (condition, description)
        self.suppress = 0           # > 0 inside a ?: branch that is not evaluated

    def guard(self):
        return self.be.and_(*self.path) if self.path else self.be.true()

    def undefined(self, cond, what: str, tok: Token):
        """Record (symbolic) or raise (concrete) undefined behaviour when cond holds."""
        c = self.be.concrete_bool(cond)
        if c is False or self.suppress:
            return
        if not self.be.symbolic:
            raise UndefinedBehaviour(what, tok.field, tok.col)
        g = self.be.and_(self.guard(), cond)
        if self.be.concrete_bool(g) is False:
            return
        loc = ", ".join(x for x in (tok.field, f"column {tok.col}") if x)
        self.ub.append((g, f"{what} at {loc}"))


def convert(ctx: EvalContext, val: Value, to, tok: Token) -> Value:
    frm = val.ctype
    if to.is_struct or frm.is_struct:
        if frm == to:
            return val
        raise tok.error(f"cannot convert '{frm}' to '{to}'")
    be = ctx.be
    if to.name == "_Bool":
        return Value(to, be.b2bv(be.not_(be.eq(val.v, be.const(0, frm.bits))), 1))
    if frm.bits == to.bits:
        return Value(to, val.v)
    if frm.bits > to.bits:
        return Value(to, be.trunc(val.v, frm.bits, to.bits))
    if frm.signed:
        return Value(to, be.sext(val.v, frm.bits, to.bits))
    return Value(to, be.zext(val.v, frm.bits, to.bits))


def _arith(ctx: EvalContext, val: Value, tok: Token, what: str) -> Value:
    if val.ctype.is_struct:
        raise tok.error(f"operand of '{what}' has struct type '{val.ctype}'")
    return convert(ctx, val, promote(val.ctype, ctx.types), tok)


def truth(ctx: EvalContext, val: Value, tok: Token, what: str):
    """C truth value of a scalar, as a back-end boolean."""
    if val.ctype.is_struct:
        raise tok.error(f"operand of '{what}' has struct type '{val.ctype}'")
    return ctx.be.not_(ctx.be.eq(val.v, ctx.be.const(0, val.ctype.bits)))


def _int_result(ctx: EvalContext, cond) -> Value:
    return Value(ctx.types["int"], ctx.be.b2bv(cond, 32))


def evaluate(node: Node, ctx: EvalContext) -> Value:
    be = ctx.be
    types = ctx.types
    cls = type(node)
    if cls is Num:
        return Value(node.ctype, be.const(node.value, node.ctype.bits))
    if cls is Var:
        val = ctx.env.get(node.name)
        if val is None:
            val = ctx.symbols.get(node.name)
            if val is None:
                raise node.tok.error(f"unknown name '{node.name}'")
        return val
    if cls is Binary:
        op = node.op
        if op in ("&&", "||"):
            a = truth(ctx, evaluate(node.a, ctx), node.tok, op)
            ca = be.concrete_bool(a)
            if ca is not None and (ca is False if op == "&&" else ca is True):
                return _int_result(ctx, be.false() if op == "&&" else be.true())
            ctx.path.append(a if op == "&&" else be.not_(a))
            try:
                b = truth(ctx, evaluate(node.b, ctx), node.tok, op)
            finally:
                ctx.path.pop()
            return _int_result(ctx, be.and_(a, b) if op == "&&" else be.or_(a, b))
        a = _arith(ctx, evaluate(node.a, ctx), node.tok, op)
        b = _arith(ctx, evaluate(node.b, ctx), node.tok, op)
        if op in ("<<", ">>"):
            return _shift(ctx, op, a, b, node.tok)
        t = usual_arithmetic(a.ctype, b.ctype, types)
        a = convert(ctx, a, t, node.tok)
        b = convert(ctx, b, t, node.tok)
        bits = t.bits
        x, y = a.v, b.v
        if op == "+":
            return Value(t, be.add(x, y, bits))
        if op == "-":
            return Value(t, be.sub(x, y, bits))
        if op == "*":
            return Value(t, be.mul(x, y, bits))
        if op in ("/", "%"):
            zero = be.eq(y, be.const(0, bits))
            ctx.undefined(zero, f"division by zero ('{op}')", node.tok)
            if t.signed:
                overflow = be.and_(be.eq(x, be.const(1 << (bits - 1), bits)),
                                   be.eq(y, be.const(-1, bits)))
                ctx.undefined(overflow, f"signed overflow in '{op}' ({t} minimum / -1)", node.tok)
                return Value(t, be.sdiv(x, y, bits) if op == "/" else be.srem(x, y, bits))
            return Value(t, be.udiv(x, y, bits) if op == "/" else be.urem(x, y, bits))
        if op == "&":
            return Value(t, be.band(x, y, bits))
        if op == "|":
            return Value(t, be.bor(x, y, bits))
        if op == "^":
            return Value(t, be.bxor(x, y, bits))
        if op == "==":
            return _int_result(ctx, be.eq(x, y))
        if op == "!=":
            return _int_result(ctx, be.not_(be.eq(x, y)))
        if op in ("<", ">", "<=", ">="):
            if op in (">", ">="):
                x, y = y, x
            strict = op in ("<", ">")
            if t.signed:
                c = be.slt(x, y, bits) if strict else be.sle(x, y, bits)
            else:
                c = be.ult(x, y) if strict else be.ule(x, y)
            return _int_result(ctx, c)
        raise node.tok.error(f"unsupported operator '{op}'")
    if cls is Unary:
        op = node.op
        val = evaluate(node.e, ctx)
        if op == "!":
            return _int_result(ctx, be.not_(truth(ctx, val, node.tok, "!")))
        val = _arith(ctx, val, node.tok, op)
        bits = val.ctype.bits
        if op == "-":
            return Value(val.ctype, be.neg(val.v, bits))
        if op == "~":
            return Value(val.ctype, be.inv(val.v, bits))
        return val
    if cls is Member:
        val = evaluate(node.e, ctx)
        st = val.ctype
        if not st.is_struct:
            raise node.tok.error(f"member '.{node.name}' of a value of type '{st}', which is not a struct")
        m = st.member(node.name)
        if m is None:
            return Value(st.storage, val.v)
        _, lo, bits, mtype = m
        return Value(mtype, be.extract(val.v, lo, bits))
    if cls is Cast:
        val = evaluate(node.e, ctx)
        return convert(ctx, val, node.ctype, node.tok)
    if cls is Cond:
        c = truth(ctx, evaluate(node.c, ctx), node.tok, "?:")
        cc = be.concrete_bool(c)
        if cc is not None:
            # the branch not taken is not evaluated in C, but its type still decides the
            # result's type: evaluate it with undefined behaviour ignored
            ctx.suppress += 1
            try:
                other = evaluate(node.b if cc else node.a, ctx)
            finally:
                ctx.suppress -= 1
            taken = evaluate(node.a if cc else node.b, ctx)
            a, b = (taken, other) if cc else (other, taken)
        else:
            ctx.path.append(c)
            try:
                a = evaluate(node.a, ctx)
            finally:
                ctx.path.pop()
            ctx.path.append(be.not_(c))
            try:
                b = evaluate(node.b, ctx)
            finally:
                ctx.path.pop()
        if a.ctype.is_struct or b.ctype.is_struct:
            if a.ctype != b.ctype:
                raise node.tok.error(f"'?:' branches have types '{a.ctype}' and '{b.ctype}'")
            return Value(a.ctype, be.ite(c, a.v, b.v))
        a = _arith(ctx, a, node.tok, "?:")
        b = _arith(ctx, b, node.tok, "?:")
        t = usual_arithmetic(a.ctype, b.ctype, types)
        a = convert(ctx, a, t, node.tok)
        b = convert(ctx, b, t, node.tok)
        return Value(t, be.ite(c, a.v, b.v))
    if cls is Compound:
        return _compound(ctx, node)
    if cls is SizeofType:
        return Value(types["unsigned long"], be.const(node.ctype.bits // 8, types["unsigned long"].bits))
    if cls is SizeofExpr:
        val = evaluate(node.e, ctx)
        return Value(types["unsigned long"], be.const(val.ctype.bits // 8, types["unsigned long"].bits))
    raise AssertionError(f"unknown node {cls.__name__}")


def _shift(ctx: EvalContext, op: str, a: Value, b: Value, tok: Token) -> Value:
    be = ctx.be
    t = a.ctype
    bits = t.bits
    amount = be.concrete(b.v, b.ctype.bits)
    if amount is not None:
        signed_amount = amount - (1 << b.ctype.bits) if (b.ctype.signed and amount >> (b.ctype.bits - 1)) else amount
        if signed_amount < 0 or signed_amount >= bits:
            ctx.undefined(be.true(), f"shift count {signed_amount} out of range for '{t}' ({bits} bits)", tok)
            return Value(t, be.const(0, bits))
        if op == "<<":
            return Value(t, be.shl(a.v, signed_amount, bits))
        return Value(t, be.ashr(a.v, signed_amount, bits) if t.signed else be.lshr(a.v, signed_amount, bits))
    # a shift count that depends on the inputs
    cbits = b.ctype.bits
    bad = be.not_(be.ult(b.v, be.const(bits, cbits))) if bits < (1 << cbits) else be.false()
    if b.ctype.signed:
        bad = be.or_(bad, be.slt(b.v, be.const(0, cbits), cbits))
    ctx.undefined(bad, f"shift count out of range for '{t}' ({bits} bits)", tok)
    n = b.v
    if cbits > bits:
        n = be.trunc(n, cbits, bits)
    elif cbits < bits:
        n = be.zext(n, cbits, bits)
    if op == "<<":
        return Value(t, be.shl_var(a.v, n, bits))
    return Value(t, be.ashr_var(a.v, n, bits) if t.signed else be.lshr_var(a.v, n, bits))


def _compound(ctx: EvalContext, node: Compound) -> Value:
    be = ctx.be
    st = node.ctype
    if not st.is_struct:
        # scalar compound literal: (pteval_t) { x }
        if len(node.inits) != 1 or node.inits[0][0] is not None:
            raise node.tok.error(f"a compound literal of scalar type '{st}' takes one initializer")
        return convert(ctx, evaluate(node.inits[0][1], ctx), st, node.inits[0][2])
    if not st.members:
        if len(node.inits) != 1:
            raise node.tok.error(f"'{st}' has one member: give one initializer, not {len(node.inits)}")
        _, e, tok = node.inits[0]
        return Value(st, convert(ctx, evaluate(e, ctx), st.storage, tok).v)
    total = be.const(0, st.bits)
    positional = 0
    whole = None
    seen = set()
    for designator, e, tok in node.inits:
        val = evaluate(e, ctx)
        if designator is None:
            if positional >= len(st.members):
                raise tok.error(f"too many initializers for '{st}'")
            m = st.members[positional]
            positional += 1
        else:
            m = st.member(designator)
            if m is None:
                whole = convert(ctx, val, st.storage, tok)
                continue
        if m[0] in seen:
            raise tok.error(f"member '{m[0]}' of '{st}' initialized twice")
        seen.add(m[0])
        _, lo, bits, mtype = m
        part = convert(ctx, val, mtype, tok)
        field = be.zext(part.v, bits, st.bits) if bits < st.bits else part.v
        total = be.bor(total, be.shl(field, lo, st.bits), st.bits)
    if whole is not None:
        if seen:
            raise node.tok.error(f"'{st}' initialized both as a whole and by member")
        return Value(st, whole.v)
    return Value(st, total)
