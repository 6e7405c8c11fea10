"""Entry point of the `drill` console script: run the app, map errors to exit codes.

One place turns exceptions into exit codes and one-line messages (docs/guide.md):
0 passed / ok, 1 graded and not passed, 2 bad input, 3 internal failure. A traceback
is shown only with `--debug`.
"""

from __future__ import annotations

import sys
import traceback

from grader.errors import DrillError


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"drill: {message}\n")
    return code


def run(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    import typer

    from drills.cli import app

    try:
        result = app(args=args, prog_name="drill", standalone_mode=False)
    except typer.TyperException as exc:  # usage errors: unknown option, bad choice
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            return 0  # bare `drill`: typer has printed the help; that is not an error
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        return _fail(message.splitlines()[0], int(getattr(exc, "exit_code", 2)))
    except (typer.Abort, KeyboardInterrupt):
        return _fail("interrupted; nothing was lost (your files and history are as they were)", 130)
    except DrillError as exc:
        if debug:
            traceback.print_exc()
        return _fail(str(exc), exc.exit_code)
    except Exception as exc:
        if debug:
            traceback.print_exc()
        return _fail(
            f"internal error: {type(exc).__name__}: {exc} (run again with --debug for the traceback)",
            3,
        )
    code = result if isinstance(result, int) else 0
    if code == 130:  # Typer turns Ctrl-C inside a command into exit 130
        return _fail("interrupted; nothing was lost (your files and history are as they were)", 130)
    return code


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _interrupt)  # `kill` behaves like Ctrl-C: children stopped
    sys.exit(run())


if __name__ == "__main__":
    main()
