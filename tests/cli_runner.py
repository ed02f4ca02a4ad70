"""The in-process `mammo-nb` runner the command-line tests share (imported as `from cli_runner import cli`)."""
import contextlib, io, warnings

from mammo_nb.cli import main


def cli(*args):
    "Run `mammo-nb ARGS` in this process; return (exit code, stdout, stderr)."
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        rc = main([str(a) for a in args])
    return rc, out.getvalue(), err.getvalue()
