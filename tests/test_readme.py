"""The README's Python example, extracted from README.md (so the README cannot drift from what
works) and run from a file as a user would: `python script.py` in a folder holding experiments/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_snippet() -> str:
    """The first ```python block under the README's '## Python' heading."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("\n## Python\n"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def run_script(code: str, folder: Path) -> subprocess.CompletedProcess:
    shutil.copytree(ROOT / "experiments", folder / "experiments")
    (folder / "script.py").write_text(code, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "script.py"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)


def test_readme_python_example_runs_from_a_script(tmp_path):
    done = run_script(readme_snippet(), tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = json.loads((tmp_path / "results" / "x" / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["counts"]["failed"] == 0 and manifest["counts"]["computed"] > 0
    assert (tmp_path / "results" / "x" / "report" / "index.html").is_file()


def test_the_example_without_its_main_guard_stops_with_one_line(tmp_path):
    """The same code pasted without `if __name__ == "__main__":` stops before any worker
    starts, with one line naming the script's line and the guard; nothing is written."""
    body = readme_snippet().split('if __name__ == "__main__":', 1)
    assert len(body) == 2, "the README example shows the guard"
    unguarded = body[0] + textwrap.dedent(body[1].split("\n", 1)[1])
    assert "if __name__" not in unguarded and "abm.run_experiment(" in unguarded
    done = run_script(unguarded, tmp_path)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr[-3000:]
    assert "script.py, line" in lines[0] and 'if __name__ == "__main__":' in lines[0]
    assert not (tmp_path / "results").exists()


WORKER = '''\
import multiprocessing


def import_unguarded_script():
    """What a worker does with an unguarded script: runs it again as __mp_main__."""
    code = "import abm.engine.guard as g\\ng.check_guarded(starts_processes=False)\\n"
    exec(compile(code, "script.py", "exec"), {"__name__": "__mp_main__"})


if __name__ == "__main__":
    child = multiprocessing.get_context("spawn").Process(target=import_unguarded_script)
    child.start()
    child.join()
    print(child.exitcode)
'''


def test_a_worker_reaching_run_experiment_while_importing_the_script_stops_with_one_line(
        tmp_path):
    """The fallback where the parent's check cannot read the script: in a worker process, a call
    made while the main script is imported as __mp_main__ exits with one line, no traceback."""
    (tmp_path / "parent.py").write_text(WORKER, encoding="utf-8")
    done = subprocess.run([sys.executable, "parent.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.strip() == "1", done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "while a worker process imported the main script" in lines[0]
    assert "Traceback" not in done.stderr
