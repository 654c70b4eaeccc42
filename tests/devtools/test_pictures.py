"""The README's pictures: the ANSI-to-SVG drawing, and the table of pictures. Nothing here grades."""
import xml.etree.ElementTree as ET

import pytest

from graders.devtools import pictures
from graders.engine import manifest
from graders.devtools.pictures import FILLS, ansi_to_svg
from graders.devtools import bank

SVG = "{http://www.w3.org/2000/svg}"
SPACE = "{http://www.w3.org/XML/1998/namespace}space"
RED, GREEN, YELLOW = FILLS["31"], FILLS["32"], FILLS["33"]


def lines(svg):
    """The terminal's lines: each <text> under the text group, as its runs of (text, attributes)."""
    group = ET.fromstring(svg).find(f"{SVG}g")
    found = []
    for text in group.findall(f"{SVG}text"):
        assert text.get(SPACE) == "preserve"
        runs = [(text.text, {})] if text.text else []
        for span in text:
            runs.append((span.text, dict(span.attrib)))
            if span.tail:
                runs.append((span.tail, {}))
        found.append(runs)
    return found


def test_plain_text_passes_through_unstyled():
    assert lines(ansi_to_svg("hello world\n  second line")) == [[("hello world", {})], [("  second line", {})]]


@pytest.mark.parametrize("code, fill", [("31", RED), ("32", GREEN), ("33", YELLOW)])
def test_each_colour_maps_to_its_fill(code, fill):
    assert lines(ansi_to_svg(f"a \x1b[{code}mword\x1b[0m b")) == [[("a ", {}), ("word", {"fill": fill}), (" b", {})]]


def test_bold_dim_and_combined_codes():
    svg = ansi_to_svg("\x1b[1mtitle\x1b[0m \x1b[2m(dim)\x1b[0m \x1b[1;32mscore\x1b[0m \x1b[31;1mlost\x1b[0m")
    assert lines(svg) == [[("title", {"font-weight": "bold"}), (" ", {}), ("(dim)", {"fill-opacity": "0.6"}),
                           (" ", {}), ("score", {"fill": GREEN, "font-weight": "bold"}), (" ", {}),
                           ("lost", {"fill": RED, "font-weight": "bold"})]]


def test_codes_add_up_until_a_reset():
    svg = ansi_to_svg("\x1b[31mred \x1b[1mand bold\x1b[0m plain")
    assert lines(svg) == [[("red ", {"fill": RED}), ("and bold", {"fill": RED, "font-weight": "bold"}),
                           (" plain", {})]]


def test_markup_characters_are_escaped():
    svg = ansi_to_svg("\x1b[31mx < y && y > z\x1b[0m in <listcomp>", title='grade -- "a" & <b>')
    assert "&lt;listcomp&gt;" in svg and "&amp;&amp;" in svg
    assert lines(svg) == [[("x < y && y > z", {"fill": RED}), (" in <listcomp>", {})]]
    root = ET.fromstring(svg)
    assert root.get("aria-label") == 'grade -- "a" & <b>'
    assert [t.text for t in root.findall(f"{SVG}text")] == ['grade -- "a" & <b>']


def test_other_escapes_and_control_characters_are_dropped():
    assert lines(ansi_to_svg("\r\x1b[K[1/7] lock\x07 done")) == [[("[1/7] lock done", {})]]


def test_the_window_is_as_wide_as_the_longest_line_and_as_tall_as_the_lines():
    short, long = ET.fromstring(ansi_to_svg("ab\ncd")), ET.fromstring(ansi_to_svg("ab\n" + "x" * 90))
    assert int(long.get("width")) > int(short.get("width"))
    taller = ET.fromstring(ansi_to_svg("ab\ncd\n\nef"))
    assert int(taller.get("height")) > int(short.get("height"))
    assert len(lines(ansi_to_svg("ab\ncd\n\nef"))) == 3  # an empty line takes room but draws nothing


def test_long_lines_fold_at_spaces_keeping_indent_and_colour():
    text = "      \x1b[33mhint: " + " ".join(["word"] * 30) + "\x1b[0m"
    folded = lines(ansi_to_svg(text, columns=40))
    assert len(folded) > 1
    for runs in folded:
        plain = "".join(t for t, _ in runs)
        assert len(plain) <= 40 and plain.startswith("      ") and not plain.endswith(" ")
        assert runs[-1][1] == {"fill": YELLOW}
    assert " ".join("".join(t for t, _ in runs).strip() for runs in folded) == "hint: " + " ".join(["word"] * 30)


def test_the_window_has_a_title_and_three_dots():
    root = ET.fromstring(ansi_to_svg("x", title="nox -s grade -- lock"))
    assert len(root.findall(f"{SVG}circle")) == 3
    assert root.find(f"{SVG}rect").get("rx")
    assert root.find(f"{SVG}text").text == "nox -s grade -- lock"


def test_every_picture_of_the_readme_is_in_the_table():
    assert {"status", "race", "deadlock", "hang", "fork-only"} <= set(pictures.PICTURES)


@pytest.mark.parametrize("name", pictures.PICTURES)
def test_each_picture_names_bank_variants_and_checks_that_exist(name):
    picture = pictures.PICTURES[name]
    exercises = manifest.load()
    assert picture.about and picture.graded
    for exercise, variant in picture.graded:
        if variant is not None:
            found = [v for v in bank.load(exercise) if v.name == variant]
            assert found, f"graders/{exercise}/bank.toml has no {variant}"
            found[0].source(exercises[exercise])  # its edits still apply to the solution
        assert set(picture.checks) <= set(exercises[exercise].checks)


def test_a_report_that_misses_its_point_is_not_drawn():
    race = pictures.PICTURES["race"]
    with pytest.raises(pictures.NotShown):
        pictures._shown(race, "lock: 0/7 checks passed\n  the grader itself failed")
    text = "      \x1b[1mstep 2: inside buy: buyer 1, buyer 2\x1b[0m"
    assert pictures._shown(race, text) == text  # colour codes do not hide the words
