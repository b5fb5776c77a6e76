"""`helpline i18n check|extract|update`: the translation catalogs' gaps, template and merge."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.dialogue.i18n import DOMAIN, LOCALE_DIR, TEMPLATE, WORD_LISTS, WORDS, check_catalogs, read_catalog

SOURCES = Path(__file__).resolve().parent
TEMPLATES = SOURCES.parent / "templates"
# Error messages are msgids too: `InvalidInput("...", name=value)` and `Forbidden(...)` are shown to the
# operator in their language (a NotFound shows as the console's own "not found" page).
KEYWORDS = {"_": None, "N_": None, "say": (2,), "gettext": None, "pgettext": ((1, "c"), 2), "InvalidInput": (1,),
            "Forbidden": (1,)}
# Where texts are marked: the bot's dialogue, the console and the feedback pages (Python and templates), and
# what actions raise or store for the console (errors, alerts).
PYTHON_SOURCES = ("dialogue/**.py", "console/**.py", "feedback/console_pages.py", "feedback/digest_page.py",
                  "feedback/survey_page.py", "feedback/render.py", "feedback/mailer.py", "feedback/periods.py",
                  "actions/**.py", "storage/files.py")
TEMPLATE_SOURCES = ("console/**.html", "survey/**.html", "digest/**.html")


def build_template():
    """Every text marked in the code (gettext calls) plus the word lists, as a Babel catalog."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    catalog = Catalog(project="helpline", domain=DOMAIN, charset="utf-8")
    sources = [(SOURCES, "bot", [(pattern, "python") for pattern in PYTHON_SOURCES]),
               (TEMPLATES, "templates", [(pattern, "jinja2.ext:babel_extract") for pattern in TEMPLATE_SOURCES])]
    for folder, prefix, method_map in sources:
        for filename, lineno, message, comments, context in extract_from_dir(
                str(folder), method_map=method_map, keywords=KEYWORDS):
            if isinstance(message, str):
                catalog.add(message, locations=[(f"{prefix}/{filename}", lineno)], auto_comments=comments,
                            context=context)
    for key in WORD_LISTS:
        catalog.add(key, context=WORDS, auto_comments=["'|'-separated words or phrases; a trailing * matches word starts"])
    return catalog


def cmd_extract(args) -> int:
    from babel.messages.pofile import write_po

    catalog = build_template()
    with TEMPLATE.open("wb") as f:
        write_po(f, catalog, omit_header=False, sort_output=True, width=100)
    print(f"{len(catalog)} texts written to {TEMPLATE}")
    return 0


def cmd_update(args) -> int:
    """Merge the template into every catalog: new texts appear untranslated, gone ones become obsolete."""
    from babel.messages.pofile import write_po

    template = read_catalog(TEMPLATE)
    for path in sorted(LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        catalog = read_catalog(path)
        catalog.update(template, no_fuzzy_matching=True)
        with path.open("wb") as f:
            write_po(f, catalog, sort_output=True, width=100, ignore_obsolete=True)
        print(f"updated {path}")
    return 0


def cmd_check(args) -> int:
    folder = Path(args.locale_dir) if args.locale_dir else LOCALE_DIR
    template = folder / TEMPLATE.name if args.locale_dir else TEMPLATE
    gaps = check_catalogs(folder, template)
    languages = sorted({p.parent.parent.name for p in folder.glob(f"*/LC_MESSAGES/{DOMAIN}.po")})
    total = len([m for m in read_catalog(template) if m.id])
    for language in languages:
        own = [g for g in gaps if g.language == language]
        missing = [g for g in own if g.kind != "obsolete"]
        print(f"{language}: {total - len(missing)}/{total} translated" + (f", {len(own) - len(missing)} obsolete" if len(own) > len(missing) else ""))
        for gap in own:
            where = f"[{gap.context}] " if gap.context else ""
            print(f"  {gap.kind:<12} {where}{gap.message[:90]}")
    untranslated = [g for g in gaps if g.kind != "obsolete"]
    if untranslated:
        print(f"{len(untranslated)} gap(s): these texts show in English", file=sys.stderr)
    return 1 if (untranslated and args.strict) else 0


def add_i18n_commands(sub) -> None:
    i18n = sub.add_parser("i18n", help="translation catalogs").add_subparsers(dest="i18n_command", required=True, metavar="ACTION")
    check = i18n.add_parser("check", help="list texts each language lacks (they show in English)")
    check.add_argument("--strict", action="store_true", help="exit with 1 when any language has a gap")
    check.add_argument("--locale-dir", help="a catalog folder of its own (with helpline.pot); default: helpline's")
    check.set_defaults(func=cmd_check)
    i18n.add_parser("extract", help="rewrite the template (helpline.pot) from the code").set_defaults(func=cmd_extract)
    i18n.add_parser("update", help="merge the template into every language's catalog").set_defaults(func=cmd_update)


def main(argv: list[str] | None = None) -> int:  # for `python -m bot.cli_i18n`
    top = argparse.ArgumentParser(prog="helpline")
    add_i18n_commands(top.add_subparsers(dest="command", required=True))
    args = top.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
