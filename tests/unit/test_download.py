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
    state = fetch_state_dict(f"{url}/weights.pth", sha256=digest, allow_http=True)
    assert torch.equal(state["w"], torch.arange(3.0))
    (served / "weights.pth").unlink()  # the second fetch is served from the cache
    assert fetch(f"{url}/weights.pth", sha256=digest, allow_http=True).is_file()


def test_wrong_hash_is_refused_and_not_cached(server):
    served, url = server
    (served / "w.pth").write_bytes(b"payload")
    with pytest.raises(UserError, match="sha256 .* expected 00ff"):
        fetch(f"{url}/w.pth", sha256="00ff" * 16, allow_http=True)
    (served / "w.pth").unlink()
    with pytest.raises(UserError, match="could not download"):
        fetch(f"{url}/w.pth", allow_http=True)  # nothing corrupt was left in the cache


def test_missing_url_local_path_and_file_url(server, tmp_path):
    _, url = server
    with pytest.raises(UserError, match="could not download .*404"):
        fetch(f"{url}/absent.pth", allow_http=True)
    with pytest.raises(UserError, match="does not exist"):
        fetch(str(tmp_path / "absent.pth"))
    local = tmp_path / "local.pth"
    torch.save({"a": torch.ones(1)}, local)
    assert fetch(f"file://{local}") == local
    with pytest.raises(UserError, match="unsupported URL scheme"):
        fetch("ftp://example.invalid/w.pth")


def test_a_sha256_is_compared_in_full_and_must_be_one(server, tmp_path):
    served, url = server
    (served / "w.pth").write_bytes(b"payload")
    digest = hashlib.sha256(b"payload").hexdigest()
    for weak in (digest[:1], "", digest[:63], "z" * 64):  # a prefix (or nothing) would weaken the check
        with pytest.raises(UserError, match=f"model.pretrained_sha256: '{weak}' is not a sha256 digest; give all 64"):
            fetch(f"{url}/w.pth", sha256=weak, allow_http=True)
    assert fetch(f"{url}/w.pth", sha256=digest.upper(), allow_http=True).read_bytes() == b"payload"


def test_plain_http_is_refused_unless_allowed_and_a_url_without_hash_warns_or_is_refused(server, capsys):
    served, url = server
    (served / "w.pth").write_bytes(b"payload")
    with pytest.raises(UserError, match="is plain http, which anything on the way can alter; use https, or set "
                                        "model.pretrained_allow_http: true"):
        fetch(f"{url}/w.pth")
    with pytest.raises(UserError, match="has no sha256 to check it against and model.pretrained_require_sha256"):
        fetch(f"{url}/w.pth", allow_http=True, require_sha256=True)
    fetch(f"{url}/w.pth", allow_http=True)
    assert "downloaded with no sha256 to check it against" in " ".join(capsys.readouterr().err.split())


def test_a_digest_written_unquoted_in_yaml_keeps_its_digits(tmp_path):
    from tao_inference.spec import load_spec
    from tao_inference.spec.schemas import ClassificationSpec

    digits = "0" + "1234567890" * 6 + "123"  # all digits, a leading zero: YAML would read a (octal) number
    spec = tmp_path / "s.yaml"
    spec.write_text(f"model:\n  pretrained_sha256: {digits}\n")
    assert load_spec(ClassificationSpec, spec).model.pretrained_sha256 == digits
    assert load_spec(ClassificationSpec, None, [f"model.pretrained_sha256={digits}"]).model.pretrained_sha256 == digits
