"""The README's commands are the ones CI runs: they must not drift apart."""

import re

from tests.conftest import ROOT


def _commands():
    readme = (ROOT / "README.md").read_text()
    return re.findall(r"```\n(python3 -m venv .venv && [^\n]+)\n```", readme)


def test_readme_has_a_run_and_a_test_command():
    run, test = _commands()
    assert run.endswith("sourced serve") and test.endswith(".venv/bin/pytest")


def test_ci_runs_the_readme_test_command_verbatim():
    _, test = _commands()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci


def test_the_cpu_torch_instruction_names_the_pinned_version():
    readme = (ROOT / "README.md").read_text()
    pin = re.search(r'"(torch==[^"]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert f"pip install {pin} --index-url https://download.pytorch.org/whl/cpu" in readme
