"""scripts/wheelhouse.py: the image build's wheelhouse links the wheels already on disk instead of copying them."""
import importlib.util
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("wheelhouse", ROOT / "scripts" / "wheelhouse.py")
wheelhouse = importlib.util.module_from_spec(spec)
spec.loader.exec_module(wheelhouse)


def make_wheel(folder: Path, name="demo_pkg", version="1.0") -> Path:
    """A minimal valid pure-Python wheel, enough for pip to resolve it."""
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        archive.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr(f"{info}/RECORD", "")
    return wheel


@pytest.fixture
def wheel(tmp_path):
    """A wheel in a folder of its own, as pip's find-links folders on this disk hold them."""
    store = tmp_path / "store"
    store.mkdir()
    return make_wheel(store)


def test_resolve_finds_the_wheels_pip_would_install_but_not_the_local_project(tmp_path, wheel):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "demo-proj"\nversion = "0.1"\ndependencies = ["demo_pkg==1.0"]\n'
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n')
    urls = wheelhouse.resolve([str(project), "--no-index", "--find-links", str(wheel.parent), "--no-build-isolation"])
    assert urls == [wheel.as_uri()]


def test_local_wheels_are_linked_not_copied_and_stale_links_dropped(tmp_path, wheel):
    house = tmp_path / "house"
    house.mkdir()
    (house / "gone-0.1-py3-none-any.whl").symlink_to(tmp_path / "gone-0.1-py3-none-any.whl")  # its wheel has gone

    wheelhouse.fill(house, [wheel.as_uri()])

    served = house / wheel.name
    assert served.is_symlink() and served.resolve() == wheel
    assert sorted(p.name for p in house.iterdir()) == [wheel.name]
