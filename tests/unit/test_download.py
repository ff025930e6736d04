"""model.pretrained downloads: tested against a real HTTP server on 127.0.0.1."""

import hashlib
import http.server
import threading

import pytest
import torch

from tao_cv.download import fetch, fetch_state_dict
from tao_inference.errors import UserError


@pytest.fixture()
def server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(served), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TAO_CACHE_DIR", str(tmp_path / "cache"))


def test_download_verifies_hash_and_caches(server):
    served, url = server
    torch.save({"w": torch.arange(3.0)}, served / "weights.pth")
    digest = hashlib.sha256((served / "weights.pth").read_bytes()).hexdigest()
    state = fetch_state_dict(f"{url}/weights.pth", sha256=digest)
    assert torch.equal(state["w"], torch.arange(3.0))
    (served / "weights.pth").unlink()  # the second fetch is served from the cache
    assert fetch(f"{url}/weights.pth", sha256=digest).is_file()


def test_wrong_hash_is_refused_and_not_cached(server):
    served, url = server
    (served / "w.pth").write_bytes(b"payload")
    with pytest.raises(UserError, match="sha256 .* expected 00ff"):
        fetch(f"{url}/w.pth", sha256="00ff")
    (served / "w.pth").unlink()
    with pytest.raises(UserError, match="could not download"):
        fetch(f"{url}/w.pth")  # nothing corrupt was left in the cache


def test_missing_url_local_path_and_file_url(server, tmp_path):
    _, url = server
    with pytest.raises(UserError, match="could not download .*404"):
        fetch(f"{url}/absent.pth")
    with pytest.raises(UserError, match="does not exist"):
        fetch(str(tmp_path / "absent.pth"))
    local = tmp_path / "local.pth"
    torch.save({"a": torch.ones(1)}, local)
    assert fetch(f"file://{local}") == local
    with pytest.raises(UserError, match="unsupported URL scheme"):
        fetch("ftp://example.invalid/w.pth")
