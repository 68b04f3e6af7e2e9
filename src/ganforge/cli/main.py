"""The ``ganforge`` parser and its entry point: each command module registers its own
sub-commands, and ``main`` turns expected failures into one line on stderr.

Expected failures (GanforgeError) print one line and exit 2; anything else is a bug and
keeps its traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings

from .. import __version__
from ..errors import GanforgeError, TrainingStopped
from . import commands, evaluate, latent, project


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ganforge", description="Train, sample and inspect GANs.")
    p.add_argument("--version", action="version", version=f"ganforge {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (commands, latent, project, evaluate):  # the order `ganforge --help` lists them in
        module.register(sub)
    return p


def split_overrides(argv: list[str]) -> tuple[list[str], list[str]]:
    """Take the dotted ``--section.key VALUE`` options out before argparse sees them
    (otherwise a positional CONFIG would swallow an override's value)."""
    rest, over, i = [], [], 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("--") and "." in a.split("=")[0]:
            over.append(a)
            if "=" not in a and i + 1 < len(argv):
                over.append(argv[i + 1])
                i += 1
        else:
            rest.append(a)
        i += 1
    return rest, over


def main(argv: list[str] | None = None) -> int:
    argv, extra = split_overrides(sys.argv[1:] if argv is None else list(argv))
    args = parser().parse_args(argv)
    if extra and not getattr(args, "accepts_dotted", False):
        parser().error(f"{args.command} takes no --section.key options: {' '.join(extra)}")
    saved, warnings.formatwarning = warnings.formatwarning, one_line_warning
    try:
        code = args.func(args, extra)
    except TrainingStopped as e:
        print(f"ganforge: {e}", file=sys.stderr)
        return 128 + e.signum
    except GanforgeError as e:
        print(f"ganforge: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ganforge: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `ganforge presets | head`: the reader has gone, and wants no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the flush at exit would fail again
        return 141  # what a shell reports for a process ended by SIGPIPE
    finally:
        warnings.formatwarning = saved
    return code or 0


def one_line_warning(message, category, filename, lineno, line=None) -> str:
    """A warning as a CLI user should see it: the message, not Python's file:line and source line."""
    return f"ganforge: warning: {message}\n"
