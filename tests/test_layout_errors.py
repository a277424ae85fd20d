"""Malformed layout files give one LayoutError line naming the file, the field and the column."""

from pathlib import Path

import pytest

from pteverify.layout import LayoutError, load_layout

FIXTURES = Path(__file__).parent / "layouts"
BASE = (FIXTURES / "fixture-ok.toml").read_text()


def _load(tmp_path, *subs, name="bad"):
    text = BASE.replace('layout = "fixture-ok"', f'layout = "{name}"')
    for old, new in subs:
        assert old in text, old
        text = text.replace(old, new)
    p = tmp_path / f"{name}.toml"
    p.write_text(text)
    with pytest.raises(LayoutError) as e:
        load_layout(p)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(str(p)), msg
    return e.value, msg


def test_expression_syntax_error(tmp_path):
    err, msg = _load(tmp_path, ('"__swp_offset(x)" = "((x).val >> SWP_OFFSET_SHIFT)"',
                                '"__swp_offset(x)" = "((x).val >> )"'))
    assert '[macros] "__swp_offset(x)", column 13' in msg and "expected an expression" in msg
    assert err.line == BASE.splitlines().index('"__swp_offset(x)" = "((x).val >> SWP_OFFSET_SHIFT)"') + 1


def test_unknown_name(tmp_path):
    err, msg = _load(tmp_path, ('SWP_OFFSET_SHIFT = "(SWP_TYPE_SHIFT + SWP_TYPE_BITS)"',
                                'SWP_OFFSET_SHIFT = "(SWP_TYPE_SHIFT + SWP_TYPE_BTIS)"'))
    assert "[constants] SWP_OFFSET_SHIFT, column 19: unknown name 'SWP_TYPE_BTIS'" in msg


def test_unknown_name_in_macro(tmp_path):
    _, msg = _load(tmp_path, ('"__swp_type(x)" = "(((x).val >> SWP_TYPE_SHIFT) & __SWP_TYPE_MASK)"',
                              '"__swp_type(x)" = "(((y).val >> SWP_TYPE_SHIFT) & __SWP_TYPE_MASK)"'))
    assert "[macros] \"__swp_type(x)\", column 4: unknown name 'y'" in msg


def test_macro_cycle(tmp_path):
    _, msg = _load(tmp_path, ('SWP_TYPE_BITS = 5', 'SWP_TYPE_BITS = "(SWP_OFFSET_SHIFT - 9)"'))
    assert "macro cycle" in msg and "SWP_TYPE_BITS" in msg and "column" in msg


def test_function_macro_cycle(tmp_path):
    _, msg = _load(tmp_path, ('"pte_val(x)" = "((x).pte)"', '"pte_val(x)" = "(__pte(x).pte)"'),
                   ('"__pte(x)" = "((pte_t) { .pte = (x) })"', '"__pte(x)" = "((pte_t) { .pte = pte_val(x) })"'))
    assert "macro cycle" in msg and "column" in msg


def test_missing_key(tmp_path):
    _, msg = _load(tmp_path, ('kernel = "none (test fixture)"\n', ''))
    assert "missing required key 'kernel'" in msg


def test_missing_required_macro(tmp_path):
    _, msg = _load(tmp_path, ('"pte_none(pte)" = "(!(pte_val(pte) & ~(_PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_HW_DBM)))"\n', ''))
    assert "[macros]: missing required macro 'pte_none'" in msg


def test_unknown_key(tmp_path):
    _, msg = _load(tmp_path, ('width = 64', 'width = 64\ncolour = "red"'))
    line = BASE.splitlines().index("width = 64") + 2
    assert f":{line}: colour: unknown key 'colour'" in msg


def test_wrong_type(tmp_path):
    _, msg = _load(tmp_path, ('width = 64', 'width = "64"'))
    assert "width: must be an integer, not str" in msg


def test_bad_width(tmp_path):
    _, msg = _load(tmp_path, ('width = 64', 'width = 48'))
    assert "width: must be 32, 64 or 128, not 48" in msg


def test_toml_syntax(tmp_path):
    err, msg = _load(tmp_path, ('width = 64', 'width = = 64'))
    assert "TOML syntax" in msg and err.line == BASE.splitlines().index("width = 64") + 1
    assert "column 9" in msg


def test_unknown_flag(tmp_path):
    _, msg = _load(tmp_path, ('uffd_wp = "_PAGE_SWP_UFFD_WP"', 'uffd = "_PAGE_SWP_UFFD_WP"'))
    assert "[flags] uffd: unknown flag 'uffd'" in msg


def test_type_error_names_the_macro(tmp_path):
    _, msg = _load(tmp_path, ('"__swp_entry_to_pte(x)" = "__pte((x).val)"', '"__swp_entry_to_pte(x)" = "((x).val)"'))
    assert "[macros] \"__swp_entry_to_pte(x)\"" in msg and "expected 'pte_t'" in msg


def test_layout_name_must_match_file(tmp_path):
    p = tmp_path / "other.toml"
    p.write_text(BASE)
    with pytest.raises(LayoutError, match="differs from the file name 'other'"):
        load_layout(p)


def test_missing_file(tmp_path):
    with pytest.raises(LayoutError, match="cannot read"):
        load_layout(tmp_path / "nope.toml")


# --- [pmd_flags], [symbols], [bits] pmd_names ---------------------------------------------------

def test_pmd_flag_unknown_name(tmp_path):
    _, msg = _load(tmp_path, ('[pmd_flags]\nsoft_dirty', '[pmd_flags]\nsoft_dirt'))
    assert "[pmd_flags] soft_dirt" in msg and "unknown flag 'soft_dirt'" in msg


def test_pmd_flags_need_pmd_forms(tmp_path):
    _, msg = _load(tmp_path, ('"__pmd_to_swp_entry(pmd)" = "((swp_entry_t) { pmd_val(pmd) })"\n', ''),
                   ('"__swp_entry_to_pmd(x)" = "__pmd((x).val)"\n', ''))
    assert "[pmd_flags]" in msg and "no PMD forms" in msg


def test_pmd_accessor_without_pmd_flag(tmp_path):
    _, msg = _load(tmp_path, ('"pmd_none(pmd)" = "(pmd_val(pmd) == 0)"',
                              '"pmd_none(pmd)" = "(pmd_val(pmd) == 0)"\n"pmd_swp_mkexclusive(pmd)" = "__pmd(pmd_val(pmd) | 8)"'))
    assert "'pmd_swp_mkexclusive' is given but [pmd_flags] has no 'exclusive'" in msg
    assert '[macros] "pmd_swp_mkexclusive(pmd)"' in msg


def test_pmd_accessor_arity(tmp_path):
    _, msg = _load(tmp_path, ('"pmd_none(pmd)" = "(pmd_val(pmd) == 0)"',
                              '"pmd_none(pmd)" = "(pmd_val(pmd) == 0)"\n"pmd_swp_soft_dirty(pmd, x)" = "(pmd_val(pmd) & 2)"'))
    assert "'pmd_swp_soft_dirty' must take 1 parameter" in msg


_SYM = ('"pmd_none(pmd)" = "(pmd_val(pmd) == 0)"', '"pmd_none(pmd)" = "(pmd_val(pmd) == (unsigned long)tbl)"')


def test_symbol_align_not_power_of_two(tmp_path):
    _, msg = _load(tmp_path, _SYM, ('[pmd_flags]', '[symbols]\ntbl = { align = 3000 }\n\n[pmd_flags]'))
    assert "[symbols] tbl" in msg and "'align' must be a power of two" in msg


def test_symbol_unknown_key(tmp_path):
    _, msg = _load(tmp_path, _SYM, ('[pmd_flags]', '[symbols]\ntbl = { alignment = 4096 }\n\n[pmd_flags]'))
    assert "unknown key 'alignment' (known: type, align, min, max)" in msg


def test_symbol_clashes_with_constant(tmp_path):
    _, msg = _load(tmp_path, ('[pmd_flags]', '[symbols]\nSWP_TYPE_BITS = { align = 8 }\n\n[pmd_flags]'))
    assert "[symbols] SWP_TYPE_BITS" in msg and "is also a constant" in msg


def test_symbol_without_allowed_value(tmp_path):
    _, msg = _load(tmp_path, _SYM, ('[pmd_flags]', '[symbols]\ntbl = { align = 4096, min = 4097, max = "8191" }\n\n[pmd_flags]'))
    assert "no multiple of align 0x1000 lies in [min, max] = [0x1001, 0x1fff]" in msg


def test_symbol_bound_uses_symbol(tmp_path):
    _, msg = _load(tmp_path, _SYM, ('[pmd_flags]', '[symbols]\ntbl = { align = 8, min = "tbl" }\n\n[pmd_flags]'))
    assert "'min': uses the symbol 'tbl'" in msg


def test_misspelled_symbol_is_an_unknown_name(tmp_path):
    _, msg = _load(tmp_path, ('"pmd_none(pmd)" = "(pmd_val(pmd) == 0)"', '"pmd_none(pmd)" = "(pmd_val(pmd) == (unsigned long)tlb)"'),
                   ('[pmd_flags]', '[symbols]\ntbl = { align = 8 }\n\n[pmd_flags]'))
    assert "unknown name 'tlb'" in msg


def test_pmd_names_bit_out_of_range(tmp_path):
    _, msg = _load(tmp_path, ('names = { 0 = "P",', 'pmd_names = { 64 = "X" }\nnames = { 0 = "P",'))
    assert "[bits] pmd_names" in msg and "'64' is not a bit number below 64" in msg


def test_known_findings_must_name_a_property(tmp_path):
    from pteverify.layout import LayoutError, load_layout
    src = (Path(__file__).parent / "layouts" / "fixture-ok.toml").read_text()
    bad = tmp_path / "fixture-ok.toml"
    bad.write_text(src + '\n[known_findings]\nno_such_property = "why"\n')
    with pytest.raises(LayoutError, match=r"\[known_findings\] no_such_property.*unknown property"):
        load_layout(bad)
