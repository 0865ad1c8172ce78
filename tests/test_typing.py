"""The package type-checks: mypy with the project's configuration reports no error.

CI runs only ``make test``, so this test is what keeps ``mypy`` (``make lint``) clean there:
strict flags on ``gridwatch.supervision.*``, the default checks elsewhere (pyproject.toml,
``[tool.mypy]``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api


@pytest.mark.slow
def test_mypy_reports_no_error(repo_root: Path, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    # From the repository root, so that mypy reads pyproject.toml and checks its ``files``;
    # a fresh cache under tmp_path, so that the result does not depend on an earlier run.
    monkeypatch.chdir(repo_root)
    stdout, stderr, status = api.run(["--cache-dir", str(tmp_path / "mypy_cache")])
    assert status == 0, f"mypy exited with {status}:\n{stdout}{stderr}"
