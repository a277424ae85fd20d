"""C source parsed without preprocessing, with tree-sitter-c.

Why tree-sitter-c and not pycparser: mm/*.c is read as it is in the tree, with its macros, GNU
extensions (`?:`, statement expressions, attributes, `__always_inline`), config conditionals and
iterator macros (`list_for_each_entry(...) { }`). pycparser needs preprocessed, standard C (every
header of the tree plus a configuration) and stops at the first construct it does not know;
tree-sitter parses un-preprocessed text, keeps going past what it cannot parse (an ERROR node, not
a failure), and gives positions for every node, which is what anchors need: which calls a function
makes, at which line, and on which arm of which branch.

What this module answers, for one file: the definitions of a function (every `#if` arm's copy) and,
for each, the calls in it in source order, each with its line and the branch arms it sits in.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from ..errors import BadInput


class ParserMissing(BadInput):
    """tree-sitter / tree-sitter-c are not installed (pip install 'pteverify[kernel]')."""


@functools.lru_cache(maxsize=1)
def _parser():
    try:
        import tree_sitter
        import tree_sitter_c
    except ImportError:
        raise ParserMissing("reading kernel C sources needs tree-sitter and tree-sitter-c: "
                            "pip install 'pteverify[kernel]'") from None
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_c.language()))


# Branch arms: a call inside one arm of a branch never runs on a path through another arm of it.
# `#if/#else` arms are exclusive too (one configuration compiles one of them).
_EXITS = ("return_statement", "goto_statement")


@dataclass(frozen=True)
class Call:
    name: str
    line: int                 # 1-based
    pos: int                  # byte offset where the call completes (its closing parenthesis):
                              # arguments come before the call they are passed to, as C runs them
    arms: tuple               # ((branch node id, arm), ...) from the outside in
    exits: tuple              # ((arm key, kind, goto label), ...) arms around the call that end in return/goto


@dataclass
class Function:
    name: str
    file: str
    line: int
    end_line: int
    calls: list = field(default_factory=list)
    labels: dict = field(default_factory=dict)       # goto label -> byte offset
    jumps: list = field(default_factory=list)        # (byte offset, arms, "return"|"goto", label)
    config: str = ""                                 # the #if condition it sits under, if any

    def find(self, name: str) -> list:
        return [c for c in self.calls if c.name == name]

    def reaches(self, a: Call, b: Call) -> bool:
        """Can `b` run after `a` on one path through the function? Source order, the same arm of
        every branch both sit in, and no return (or goto past `b`) ending an arm `a` leaves
        before `b`. Loops are not unrolled: a call is not taken to reach an earlier one."""
        if a.pos >= b.pos:
            return False
        arms_b = dict(b.arms)
        for node, arm in a.arms:
            if node in arms_b and arms_b[node] != arm:
                return False
        inside_b = set(b.arms)
        for key, kind, label in a.exits:
            if key in inside_b:
                continue                     # b is in the same arm: the exit comes after both
            if kind == "return":
                return False
            target = self.labels.get(label)
            if target is None or target > b.pos:
                return False
        # a return or goto that every path from `a` meets before `b` (it sits in no arm `a` is not
        # in): `b` is then reached only through a label between the two that a later goto targets
        for pos, arms, kind, label in self.jumps:
            if a.pos < pos < b.pos and a.arms[:len(arms)] == arms:
                if kind == "goto" and pos < self.labels.get(label, -1) <= b.pos:
                    continue
                if not any(pos < lpos <= b.pos and any(jp > a.pos and jl == name and jk == "goto"
                                                       for jp, _, jk, jl in self.jumps)
                           for name, lpos in self.labels.items()):
                    return False
        return True


def _text(node) -> str:
    return node.text.decode(errors="replace")


def _declarator_name(decl) -> str | None:
    while decl is not None:
        if decl.type == "function_declarator":
            inner = decl.child_by_field_name("declarator")
            while inner is not None and inner.type in ("pointer_declarator", "parenthesized_declarator",
                                                       "attributed_declarator"):
                inner = inner.child_by_field_name("declarator") or (inner.named_children[0] if inner.named_children else None)
            return _text(inner) if inner is not None and inner.type == "identifier" else None
        decl = decl.child_by_field_name("declarator")
    return None


def _ends_in_exit(arm):
    """(kind, label) when the arm's last statement is a return or a goto, else None."""
    node = arm
    if node.type == "else_clause":
        node = node.named_children[-1] if node.named_children else None
    if node is not None and node.type == "compound_statement":
        stmts = [c for c in node.named_children if c.type != "comment"]
        node = stmts[-1] if stmts else None
    if node is None:
        return None
    if node.type == "return_statement":
        return ("return", "")
    if node.type == "goto_statement":
        lab = node.child_by_field_name("label")
        return ("goto", _text(lab) if lab is not None else "")
    return None


def _walk_calls(fn: Function, node, arms: tuple, exits: tuple) -> None:
    t = node.type
    if t == "call_expression":
        f = node.child_by_field_name("function")
        if f is not None and f.type == "identifier":
            fn.calls.append(Call(_text(f), node.start_point[0] + 1, node.end_byte, arms, exits))
    elif t in _EXITS:
        lab = node.child_by_field_name("label") if t == "goto_statement" else None
        fn.jumps.append((node.start_byte, arms, "goto" if lab is not None else "return",
                         _text(lab) if lab is not None else ""))
    elif t == "labeled_statement":
        lab = node.child_by_field_name("label")
        if lab is not None:
            fn.labels[_text(lab)] = node.start_byte
    if t in ("if_statement", "conditional_expression"):
        cons = node.child_by_field_name("consequence")
        alt = node.child_by_field_name("alternative")
        for child in node.children:
            if cons is not None and child.id == cons.id:
                arm = (node.id, 0)
            elif alt is not None and child.id == alt.id:
                arm = (node.id, 1)
            else:
                _walk_calls(fn, child, arms, exits)
                continue
            ex = _ends_in_exit(child) if t == "if_statement" else None
            _walk_calls(fn, child, arms + (arm,), exits + ((arm,) + ex,) if ex else exits)
        return
    if t == "switch_statement":
        # each `case` is an arm of the switch: a call in one case does not run on a path through
        # another (fallthrough aside), and a `goto`/`return` ending a case ends only that case
        body = node.child_by_field_name("body")
        for child in node.children:
            if body is not None and child.id == body.id:
                k = 0
                for case in body.children:
                    if case.type != "case_statement":
                        _walk_calls(fn, case, arms, exits)
                        continue
                    arm = (node.id, k)
                    k += 1
                    stmts = [c for c in case.named_children if c.type not in ("comment",)]
                    last = stmts[-1] if stmts else None
                    ex = None
                    if last is not None and last.type == "return_statement":
                        ex = ("return", "")
                    elif last is not None and last.type == "goto_statement":
                        lab = last.child_by_field_name("label")
                        ex = ("goto", _text(lab) if lab is not None else "")
                    _walk_calls(fn, case, arms + (arm,), exits + ((arm,) + ex,) if ex else exits)
            else:
                _walk_calls(fn, child, arms, exits)
        return
    if t in ("preproc_if", "preproc_ifdef", "preproc_elif", "preproc_else", "preproc_elifdef"):
        # each #if/#elif/#else arm is exclusive of its siblings: the alternative is a nested arm
        alt = node.child_by_field_name("alternative")
        for child in node.children:
            if alt is not None and child.id == alt.id:
                _walk_calls(fn, child, arms + ((node.id, 1),), exits)
            elif child.is_named and child.type not in ("identifier", "preproc_defined", "binary_expression",
                                                       "unary_expression", "call_expression", "parenthesized_expression"):
                _walk_calls(fn, child, arms + ((node.id, 0),), exits)
        return
    for child in node.children:
        _walk_calls(fn, child, arms, exits)


@functools.lru_cache(maxsize=256)
def _parse(text: str):
    return _parser().parse(text.encode())


def functions(text: str, path: str, name: str) -> list[Function]:
    """Every definition of function `name` in the file text (more than one under `#if/#else`)."""
    root = _parse(text).root_node
    out = []
    stack = [(root, "")]
    while stack:
        node, cond = stack.pop()
        if node.type == "function_definition":
            if _declarator_name(node.child_by_field_name("declarator")) == name:
                fn = Function(name, path, node.start_point[0] + 1, node.end_point[0] + 1, config=cond)
                body = node.child_by_field_name("body")
                if body is not None:
                    _walk_calls(fn, body, (), ())
                    fn.calls.sort(key=lambda c: c.pos)
                out.append(fn)
            continue
        if node.type in ("preproc_if", "preproc_ifdef", "preproc_elif", "preproc_else"):
            c = node.child_by_field_name("condition") or node.child_by_field_name("name")
            cond = _text(c) if c is not None else cond
        for child in node.children:
            if child.type in ("translation_unit", "preproc_if", "preproc_ifdef", "preproc_elif", "preproc_else",
                              "function_definition", "ERROR", "linkage_specification", "declaration_list"):
                stack.append((child, cond))
    out.sort(key=lambda f: f.line)
    return out


def defined_functions(text: str) -> list[tuple[str, int, int]]:
    """(name, first line, last line) of every function definition in the file."""
    root = _parse(text).root_node
    out = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "function_definition":
            name = _declarator_name(node.child_by_field_name("declarator"))
            if name:
                out.append((name, node.start_point[0] + 1, node.end_point[0] + 1))
            continue
        stack.extend(node.children)
    return sorted(out, key=lambda x: x[1])
