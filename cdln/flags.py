"""Command-line flags generated from a config dataclass's field metadata, and the CLI reference page.

Every field of a config (:class:`sim.RunConfig`, :class:`cdln.report.ReportConfig`) is declared with
:func:`theory.checks.option`: a default, one line of help, its choices and its unit. This module
turns each field into one ``--flag`` (``rank_hat`` → ``--rank-hat``) with that help, the choices
(argparse then refuses anything else, with status 2) and the default; :func:`cli_markdown` writes
every subcommand's flags as ``docs/cli.md``. Flags, validation and docs come from one source, so
they cannot drift (``tests/test_cli.py`` regenerates the page and compares).
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing

__all__ = ["add_dataclass_flags", "flag_name", "cli_markdown", "main"]


def flag_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def _converter(field_name: str, hint):
    """argparse ``type`` for a field's annotation: int, float, str, Optional of those, or a tuple of them
    given comma-separated (``--spectrum 3,2,1``)."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _converter(field_name, inner[0])
    if typing.get_origin(hint) is tuple:
        item = args[0]

        def parse(text: str):
            try:
                return tuple(item(x) for x in text.split(",") if x.strip())
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"{flag_name(field_name)} takes comma-separated {item.__name__}s, got {text!r}") from None

        parse.__name__ = f"comma-separated {item.__name__}s"
        return parse
    if hint in (int, float, str):
        return hint
    raise TypeError(f"no command-line converter for field {field_name!r} of type {hint!r}")  # pragma: no cover


def _describe_default(value) -> str:
    if value is None:
        return "not given"
    if isinstance(value, tuple):
        return ",".join(map(str, value)) if value else "empty"
    return str(value)


def add_dataclass_flags(parser: argparse.ArgumentParser, cls, *, suppress_defaults: bool = False,
                        command_defaults: dict | None = None, command: str = "",
                        command_notes: dict | None = None) -> None:
    """One flag per field of ``cls``. With ``suppress_defaults`` a flag that is not given is absent from the
    parsed namespace (so it can be merged over a config file); the default still shows in the help.
    ``command_defaults`` are the command's own defaults where they differ from the dataclass's (the help
    then names both: ``(cdln run: 5.0 unless given; sim.RunConfig (default: 1.0))``); ``command_notes`` adds
    a word to a command default (``(cdln run: 40000 unless given, AltMin: 1000; …)``)."""
    hints = typing.get_type_hints(cls)
    own = command_defaults or {}
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if "help" not in meta:
            raise TypeError(f"{cls.__name__}.{f.name} has no help text: declare it with theory.checks.option")
        text = meta["help"]
        if meta.get("unit"):
            text += f" [unit: {meta['unit']}]"
        if f.name in own:
            note = (command_notes or {}).get(f.name)
            text += (f" ({command}: {_describe_default(own[f.name])} unless given{', ' + note if note else ''}; "
                     f"{cls.__module__.split('.')[0]}.{cls.__name__} (default: {_describe_default(f.default)}))")
        elif "default" not in text:  # a None default is explained by the help text itself
            text += f" (default: {_describe_default(f.default)})"
        kw = dict(type=_converter(f.name, hints[f.name]), help=text.replace("%", "%%"),
                  default=argparse.SUPPRESS if suppress_defaults else f.default)
        if meta.get("choices"):
            kw["choices"] = meta["choices"]
        else:
            kw["metavar"] = f.name.upper()
        parser.add_argument(flag_name(f.name), **kw)


# --------------------------------------------------------------------------- docs/cli.md
def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:  # argparse has no public walker; _actions is stable since 3.2
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, helps.get(name, ""), sub


def _flag_row(action: argparse.Action) -> str | None:
    if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
        return None
    names = ", ".join(f"`{o}`" for o in action.option_strings) or f"`{action.dest}`"
    if action.choices:
        kind = " \\| ".join(f"`{c}`" for c in action.choices)
    elif action.nargs == 0:
        kind = "switch"
    else:
        kind = f"`{action.metavar or action.dest.upper()}`"
    text = (action.help or "").replace("%%", "%").replace("|", "\\|")
    return f"| {names} | {kind} | {text} |"


def cli_markdown(parser: argparse.ArgumentParser | None = None) -> str:
    """The reference page of every subcommand and flag, from the parser itself."""
    if parser is None:
        from .cli import build_parser

        parser = build_parser()
    out = ["# Command line", "",
           "Generated by `python -m cdln.flags docs/cli.md` from the parser, whose `run` and `theory` flags are "
           "generated from the config dataclasses' field metadata; a test checks that this page is current. "
           "Bad input exits with status 2 and one line on stderr, before any work starts.", ""]
    for name, text, sub in _subparsers(parser):
        out += [f"## `cdln {name}`", "", (text or "").strip().rstrip(".") + ".", "",
                "| flag | value | meaning |", "|---|---|---|"]
        out += [row for row in map(_flag_row, sub._actions) if row]
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    import sys

    from sim.io import atomic_write_text

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m cdln.flags OUT.md", file=sys.stderr)
        return 2
    atomic_write_text(argv[0], cli_markdown())
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
