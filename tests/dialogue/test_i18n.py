"""Catalogs: one .po per language read through Babel, English for gaps, gaps listed by `helpline i18n check`."""
from __future__ import annotations

from pathlib import Path

from bot.cli import main
from bot.cli_i18n import build_template
from bot.dialogue.i18n import LOCALE_DIR, TEMPLATE, Catalogs, check_catalogs, language_name, read_catalog

PO = """msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"

msgid "Yes"
msgstr "{yes}"

msgid "No"
msgstr ""

#, fuzzy
msgid "Skip"
msgstr "Fuzzy"

msgctxt "words"
msgid "handoff"
msgstr "{handoff}"
"""


def write_catalog(folder: Path, language: str, yes: str, handoff: str = "") -> None:
    path = folder / language / "LC_MESSAGES" / "helpline.po"
    path.parent.mkdir(parents=True)
    path.write_text(PO.format(yes=yes, handoff=handoff), encoding="utf-8")


def test_the_shipped_catalogs():
    catalogs = Catalogs.load()
    assert {"en", "ru", "uk", "hu", "lv", "de"} <= set(catalogs.languages)
    assert catalogs.get("lv").gettext("Yes") == "Jā"
    assert catalogs.get("xx").gettext("Yes") == "Yes"  # an unknown language is English
    assert catalogs.get("hu").gettext("How can I help you?") == "Miben segíthetek?"


def test_adding_a_language_is_adding_a_catalog(tmp_path):
    write_catalog(tmp_path, "en", "Yes", "operator")
    write_catalog(tmp_path, "fi", "Kyllä", "ihminen|asiakaspalvelija*")
    catalogs = Catalogs.load(tmp_path)
    finnish = catalogs.get("fi")
    assert finnish.gettext("Yes") == "Kyllä"
    assert finnish.gettext("No") == "No"  # untranslated: English
    assert finnish.gettext("Skip") == "Skip"  # fuzzy: not trusted, English
    assert finnish.gettext("Never heard of") == "Never heard of"
    assert finnish.words("handoff") == ["ihminen", "asiakaspalvelija*"]


def test_check_lists_the_gaps(tmp_path):
    write_catalog(tmp_path, "en", "Yes", "operator")
    template = tmp_path / "t.pot"
    template.write_text('msgid "Yes"\nmsgstr ""\n\nmsgid "No"\nmsgstr ""\n\nmsgid "Skip"\nmsgstr ""\n\nmsgid "Gone"\nmsgstr ""\n',
                        encoding="utf-8")
    gaps = {(g.kind, g.message) for g in check_catalogs(tmp_path, template)}
    assert gaps == {("untranslated", "No"), ("fuzzy", "Skip"), ("missing", "Gone"), ("obsolete", "handoff")}


def test_the_template_matches_the_code():
    """Every text the code marks is in helpline.pot (run `helpline i18n extract` after changing texts)."""
    in_code = {(m.context, m.id) for m in build_template() if m.id}
    in_template = {(m.context, m.id) for m in read_catalog(TEMPLATE) if m.id}
    assert in_code == in_template


def test_every_bot_facing_text_is_translated_in_the_four_demo_languages():
    gaps = [g for g in check_catalogs() if g.language in ("en", "ru", "hu", "lv", "de")]
    assert gaps == []


def test_helpline_i18n_check(capsys, tmp_path):
    assert main(["i18n", "check", "--strict"]) == 0  # the shipped catalogs have no gaps
    total = len([m for m in read_catalog(TEMPLATE) if m.id])
    out = capsys.readouterr().out
    assert all(f"{lang}: {total}/{total} translated" in out for lang in ("en", "ru", "uk", "hu", "lv", "de"))
    write_catalog(tmp_path, "en", "Yes", "operator")
    write_catalog(tmp_path, "fi", "Kyllä")
    (tmp_path / "helpline.pot").write_text('msgid "Yes"\nmsgstr ""\n\nmsgid "No"\nmsgstr ""\n', encoding="utf-8")
    assert main(["i18n", "check", "--locale-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "fi: 1/2 translated" in out and "untranslated" in out and "No" in out
    assert main(["i18n", "check", "--locale-dir", str(tmp_path), "--strict"]) == 1


def test_language_names_come_from_cldr():
    assert language_name("lv", "en") == "Latvian"
    assert language_name("hu", "ru") == "венгерский"
    assert language_name("zz-bad", "en") in ("zz-bad", "zz")


def test_locale_folder_layout():
    for po in LOCALE_DIR.glob("*/LC_MESSAGES/*.po"):
        assert po.name == "helpline.po"
