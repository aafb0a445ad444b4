"""Specification of `microgrid.cli`'s own behaviour (each subcommand is specified with the
module it presents: ``bp`` in test_report.py, ``demo`` in test_demo.py, ``graph`` in
test_graph.py).

A command whose reader goes away (``microgrid bp | head``) stops quietly, as command-line
tools do: no traceback, and the status of a program ended by SIGPIPE.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(os.name != "posix", reason="SIGPIPE and its exit status are POSIX")
def test_a_reader_that_goes_away_ends_the_command_quietly() -> None:
    """``microgrid bp ... | head -1``: the report (~200 KB, more than a pipe holds) meets a
    closed pipe; the command stops without a word on stderr and exits 141 (128 + SIGPIPE)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [sys.executable, "-m", "microgrid", "bp", "--sizes", "2,60,60,2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        first = process.stdout.readline()
        process.stdout.close()  # as `head -1` does once it has its line
        err = process.stderr.read().decode()
        status = process.wait(timeout=120)
    assert first.startswith(b"network 2,60,60,2")
    assert err == ""
    assert status == 141


@pytest.mark.skipif(os.name != "posix", reason="SIGPIPE and its exit status are POSIX")
def test_a_reader_that_goes_away_before_the_last_flush_ends_it_quietly_too() -> None:
    """Output small enough to sit in Python's buffer meets the closed pipe at the final flush."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will read
    try:
        done = subprocess.run([sys.executable, "-m", "microgrid", "bp"], stdout=write_end,
                              stderr=subprocess.PIPE, env=env, timeout=120)
    finally:
        os.close(write_end)
    assert done.stderr.decode() == ""
    assert done.returncode == 141
