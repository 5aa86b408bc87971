import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bundled_recordings_match_their_sources():
    """The shipped .jsonl files are exactly what scripts/make_recordings.py generates."""
    out = subprocess.run(
        [sys.executable, "scripts/make_recordings.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
