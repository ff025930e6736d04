"""Fill a wheelhouse with the wheels that `pip install <requirements>` would take, without copying GBs.

pip resolves the requirements (`pip install --dry-run --report`); a wheel that already lies on this disk (pip's
find-links / file:// indexes: torch and its CUDA libraries, ~3 GB) is symlinked, the rest is downloaded. A plain
`pip download` would copy every local wheel, which once filled a CI machine's disk.

    python scripts/wheelhouse.py build/wheelhouse ".[cv]" setuptools wheel
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse


def pip(*args):
    """Run this interpreter's pip; its own message says what failed, so stop with a pointer, not a traceback."""
    if subprocess.run([sys.executable, "-m", "pip", *args]).returncode:
        sys.exit(f"wheelhouse.py: `pip {args[0]}` failed (its message is above); fix the requirement or the index")


def resolve(requirements: list[str]) -> list[str]:
    """URLs of the distributions pip would install for `requirements` on this machine, from its own resolver."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        pip("install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report), *requirements)
        installs = json.loads(report.read_text())["install"]
    # A local project (dir_info: the toolkit itself) is no wheel to serve: the image build copies its source.
    return [item["download_info"]["url"] for item in installs if "archive_info" in item["download_info"]]


def fill(wheelhouse: Path, urls: list[str]) -> None:
    wheelhouse.mkdir(parents=True, exist_ok=True)
    for link in wheelhouse.iterdir():  # links left by an earlier run whose wheel has since gone
        if link.is_symlink() and not link.exists():
            link.unlink()
    remote = []
    for url in urls:
        parsed = urlparse(url)
        target = wheelhouse / unquote(Path(parsed.path).name)
        if target.exists():
            continue
        if parsed.scheme == "file":
            target.symlink_to(unquote(parsed.path))
        else:
            remote.append(url)
    if remote:
        pip("download", "--quiet", "--no-deps", "--dest", str(wheelhouse), *remote)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    fill(Path(sys.argv[1]), resolve(sys.argv[2:]))
