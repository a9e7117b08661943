"""The CLI as a thin, documented shell; the README's two quick-start commands."""

from __future__ import annotations

import os
import re
import subprocess

import click

from juno_kg.cli import cli

from .conftest import ROOT, run_cli, run_module

README = (ROOT / "README.md").read_text("utf-8")


def _commands(group: click.Group = cli, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, command in sorted(group.commands.items()):
        full = f"{prefix}{name}"
        out.append((full, command))
        if isinstance(command, click.Group):
            out += _commands(command, full + " ")
    return out


def test_every_command_is_documented_in_the_readme():
    for name, _ in _commands():
        assert f"juno-kg {name}" in README, f"`juno-kg {name}` is not in README.md"


def test_every_command_has_help_with_an_example():
    for name, command in _commands():
        result = run_cli(*name.split(), "--help")
        assert result.exit_code == 0
        if not isinstance(command, click.Group):
            assert "Example" in result.output, f"`juno-kg {name} --help` has no example"


def test_python_dash_m_works():
    proc = run_module("--help")
    assert proc.returncode == 0 and "build" in proc.stdout


def test_unknown_command_is_a_usage_error():
    assert run_cli("frobnicate").exit_code == 2


def quickstart_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", section, re.S)
    return [line.strip() for b in blocks for line in b.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def test_the_quick_start_has_exactly_two_commands():
    assert quickstart_commands() == ["make run", "make test"]


def test_make_run_builds_the_graph_and_prints_what_it_wrote(tmp_path):
    """The first quick-start command, as a user runs it (the venv already made by `make`)."""
    env = {**os.environ, "OUT": str(tmp_path / "dist"), "JUNO_KG_NO_SERVE": "1"}
    proc = subprocess.run(["make", "run", f"OUT={tmp_path / 'dist'}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "dumps/juno-kg.ttl" in proc.stdout
    assert (tmp_path / "dist" / "dumps" / "juno-kg.nq").is_file()


def test_make_test_runs_this_suite_and_ci_runs_make_test():
    proc = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0
    assert "pytest" in proc.stdout
    assert "make test" in (ROOT / ".ci" / "run").read_text()
