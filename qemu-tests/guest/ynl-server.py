#!/usr/bin/python3
"""The kernel's YNL command line (tools/net/ynl/cli.py), run once per
request line by one long-lived process: each line on stdin is a JSON list
of cli.py's arguments; each answer on stdout is one JSON line with what
cli.py printed ("out") and its exit status ("code"). The requests and the
kernel's answers are exactly cli.py's; only the interpreter start and the
imports (about a second under TCG) are paid once instead of per request,
and the parsing of a spec: PyYAML's pure-Python parser took 90 ms for our
28 KB spec on the host and about two seconds a request in the TCG guest,
most of each request's time. Each request still builds its own family
from a copy of the parsed spec, so a spec that changes is parsed again.

    ynl-server.py KERNEL-SOURCE"""

import contextlib
import copy
import io
import json
import sys

import yaml

sys.path.insert(0, sys.argv[1] + "/tools/net/ynl")
import cli  # noqa: E402  (the path above makes it importable)


parse_yaml = yaml.safe_load
parsed = {}


def safe_load_once(stream):
    """yaml.safe_load, parsing each distinct text once."""
    text = stream.read() if hasattr(stream, "read") else stream
    if text not in parsed:
        parsed[text] = parse_yaml(text)
    return copy.deepcopy(parsed[text])


yaml.safe_load = safe_load_once


def run(argv):
    out = io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        sys.argv = ["cli.py"] + argv
        # cli.py ends a failed request with the builtin exit(), which closes
        # sys.stdin: give it one of its own, so the requests keep coming.
        sys.stdin = io.StringIO()
        try:
            cli.main()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except Exception as e:  # what cli.py would die of, as its last line
            print(f"{type(e).__name__}: {e}")
            code = 1
    return {"code": code, "out": out.getvalue()}


requests = sys.stdin
for line in requests:
    print(json.dumps(run(json.loads(line))), flush=True)
