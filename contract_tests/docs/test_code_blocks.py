"""Every ```python block in README.md and docs/*.md runs, as written, against the bundled mock.

None is skipped. A block is run the way a reader would run it:

- A block that defines ``test_*`` functions is a pytest module: it is written to a test file in
  an empty folder and run with pytest in a subprocess, where the ``deerapi_mock`` fixtures come
  from the installed plugin, exactly as in a user's project. Every test in it must pass.
- Any other block is a script: it runs with ``python`` in a subprocess, in an empty working
  folder holding the files the examples name (``first_frame.png``, 720x1280), with
  ``DEERAPI_KEY`` and ``DEERAPI_BASE_URL`` pointing at a fresh mock served on loopback (jobs end
  on their first read, as under the fixtures). It must exit 0 having sent a request (to that
  mock, unless it serves a mock of its own).

Both run with warnings as errors. A block that cannot run as written is fixed in the text.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from deerapi_videos_mock import MockDeerAPI

from contract_tests.builders import png
from contract_tests.paths import ROOT

DOCUMENTS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
LANGUAGES = frozenset({"python", "py"})
TIMEOUT = 60  # seconds per block; a block waiting on a job that never ends fails here
JOB_DURATION = 8.0  # the mock's default
_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_TEST_FUNCTION = re.compile(r"^(async\s+)?def\s+test_\w*\s*\(", re.MULTILINE)


@dataclass(frozen=True)
class CodeBlock:
    """A fenced Python block: the file, the line of its opening fence and its source."""

    path: Path
    line: int
    source: str

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT).as_posix()}:{self.line}"

    @property
    def is_pytest_module(self) -> bool:
        return _TEST_FUNCTION.search(self.source) is not None


def extract_blocks(path: Path, text: str | None = None) -> list[CodeBlock]:
    """The ```python (or ```py) blocks of a Markdown file, dedented by their fence's indent."""
    lines = (path.read_text(encoding="utf-8") if text is None else text).splitlines()
    blocks: list[CodeBlock] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        words = opening["info"].strip().split()
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            closing = _FENCE.match(lines[j])
            if (
                closing is not None
                and closing["fence"][0] == fence[0]
                and len(closing["fence"]) >= len(fence)
                and not closing["info"].strip()
            ):
                break
            line = lines[j]
            body.append(line[indent:] if not line[:indent].strip() else line.lstrip())
            j += 1
        if words and words[0].lower() in LANGUAGES:
            blocks.append(CodeBlock(path, i + 1, "\n".join(body) + "\n"))
        i = j + 1
    return blocks


BLOCKS = [block for document in DOCUMENTS for block in extract_blocks(document)]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEERAPI_", "PYTEST_"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Exit status and output; on a timeout, what was printed so far (which names the block)."""
    try:
        result = subprocess.run(
            args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        partial = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        return -1, f"still running after {timeout}s (waiting on a job that never ends?)\n{partial}"
    return result.returncode, result.stdout + result.stderr


def run_script(block: CodeBlock, workdir: Path) -> str | None:
    """Run a script block; None when it ran as the docs promise, else what went wrong."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "first_frame.png").write_bytes(png(720, 1280))
    script = workdir / "docs_example.py"
    script.write_text(block.source, encoding="utf-8")
    env = _env()
    mock = MockDeerAPI(advance_on_retrieve=JOB_DURATION)  # jobs end on their first read
    with mock.serve() as base_url:
        env["DEERAPI_KEY"] = str(mock.api_key)
        env["DEERAPI_BASE_URL"] = base_url
        status, output = _run([sys.executable, "-W", "error", script.name], workdir, env, TIMEOUT)
    if status != 0:
        return f"python exited {status}:\n{output}"
    if not mock.requests and "MockDeerAPI(" not in block.source:
        return "the block ran but sent no request to the API"
    return None


_RESULT = re.compile(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (test_block_\d+)\.py\b", re.M)


def run_pytest_modules(blocks: list[CodeBlock], workdir: Path) -> dict[str, str | None]:
    """Run pytest-module blocks in one pytest process (its start-up is most of the cost), each
    as its own test file; per block, None when every test in it passed, else the output."""
    workdir.mkdir(parents=True, exist_ok=True)
    for index, block in enumerate(blocks):
        (workdir / f"test_block_{index}.py").write_text(block.source, encoding="utf-8")
    pytest_args = ["-v", "-rA", "-p", "no:cacheprovider", "-W", "error"]
    pytest_args += ["--continue-on-collection-errors", "."]
    status, output = _run(
        [sys.executable, "-m", "pytest", *pytest_args],
        workdir,
        _env(),
        TIMEOUT * max(1, len(blocks)),
    )
    outcomes: dict[str, list[str]] = {}
    for outcome, module in _RESULT.findall(output):
        outcomes.setdefault(module, []).append(outcome)
    problems: dict[str, str | None] = {}
    for index, block in enumerate(blocks):
        seen = outcomes.get(f"test_block_{index}", [])
        if not seen or set(seen) != {"PASSED"}:
            summary = ", ".join(seen) or "no test ran"
            heading = f"test_block_{index}.py: {summary} (pytest exited {status})"
            problems[block.name] = f"{heading}:\n{output}"
        else:
            problems[block.name] = None
    return problems


@pytest.fixture(scope="module")
def pytest_module_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | None]:
    blocks = [b for b in BLOCKS if b.is_pytest_module]
    return run_pytest_modules(blocks, tmp_path_factory.mktemp("docs_pytest_blocks"))


def test_every_document_is_scanned() -> None:
    assert {p.name for p in DOCUMENTS} >= {
        "README.md",
        "index.md",
        "usage.md",
        "testing-against-the-mock.md",
    }
    assert len(BLOCKS) >= 10
    assert any(b.path.name == "README.md" and b.is_pytest_module for b in BLOCKS)


@pytest.mark.parametrize("block", BLOCKS, ids=[b.name for b in BLOCKS])
def test_code_block_runs(
    block: CodeBlock, tmp_path: Path, pytest_module_results: dict[str, str | None]
) -> None:
    if block.is_pytest_module:
        problem = pytest_module_results[block.name]
    else:
        problem = run_script(block, tmp_path)
    assert problem is None, f"{block.name} does not run as written:\n{block.source}\n{problem}"


# -- the runner can fail ---------------------------------------------------------------------------

BROKEN_SCRIPT = """\
from deerapi_videos import DeerAPI

with DeerAPI() as client:
    client.videos.create_and_poll(prompt="a cat", seconds="5")
"""

BROKEN_TEST = """\
from deerapi_videos import DeerAPI


def test_my_app(deerapi_mock_server):
    mock, base_url = deerapi_mock_server
    with DeerAPI(base_url=base_url, api_key=mock.api_key) as client:
        client.videos.create_and_poll(prompt="a cat", seconds="4")
    assert len(mock.paid_jobs) == 2
"""


def test_extraction_keeps_fences_apart() -> None:
    text = (
        "intro\n```bash\npip install x\n```\n"
        "- a list item:\n\n  ```python\n  print(1)\n  ```\n"
        "````markdown\n```python\nnot a block of its own\n```\n````\n"
        "```py\nprint(2)\n```\n"
    )
    blocks = extract_blocks(ROOT / "README.md", text)
    assert [(b.line, b.source) for b in blocks] == [(7, "print(1)\n"), (15, "print(2)\n")]


def test_a_broken_script_fails(tmp_path: Path) -> None:
    problem = run_script(CodeBlock(ROOT / "README.md", 1, BROKEN_SCRIPT), tmp_path)
    assert problem is not None and "InvalidParameterError" in problem


def test_a_script_that_talks_to_no_api_fails(tmp_path: Path) -> None:
    problem = run_script(CodeBlock(ROOT / "README.md", 1, "print('hello')\n"), tmp_path)
    assert problem == "the block ran but sent no request to the API"


def test_a_broken_test_module_fails_alone(tmp_path: Path) -> None:
    good, broken, unparsable = (
        CodeBlock(ROOT / "README.md", line, source)
        for line, source in [
            (1, "def test_fine():\n    pass\n"),
            (2, BROKEN_TEST),
            (3, "def test_(:\n"),
        ]
    )
    problems = run_pytest_modules([good, broken, unparsable], tmp_path)
    assert problems[good.name] is None
    assert "FAILED" in str(problems[broken.name]) and "assert 1 == 2" in str(problems[broken.name])
    assert "ERROR" in str(problems[unparsable.name])
