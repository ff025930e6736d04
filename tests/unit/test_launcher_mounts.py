"""Mounts file parsing, host→container path translation (args and spec files), GPU flags, image names."""

import json
from pathlib import Path, PurePosixPath

import pytest

from tao_launcher.errors import LauncherError
from tao_launcher.gpus import GpuRequest, docker_device_requests, split_gpu_flags
from tao_launcher.images import image_for
from tao_launcher.mounts import Mount, load_mounts
from tao_launcher.paths import PathTranslator, host_args, translate_args, translate_spec_text


def write_mounts(tmp_path, data):
    path = tmp_path / "mounts.json"
    path.write_text(json.dumps(data, indent=1) if not isinstance(data, str) else data)
    return path


def test_mounts_file_in_tao_format(tmp_path):
    (tmp_path / "exp").mkdir()
    config = load_mounts(write_mounts(tmp_path, {
        "Mounts": [{"source": str(tmp_path / "exp"), "destination": "/workspace/exp"}],
        "Envs": [{"variable": "CUDA_CACHE_DISABLE", "value": "1"}],
        "DockerOptions": {"user": "1000:1000", "shm_size": "16G", "ulimits": {"memlock": -1},
                          "ports": {"8888": 8888}, "privileged": False, "network": "host", "tty": True}}))
    assert config.mounts == [Mount(tmp_path.resolve() / "exp", PurePosixPath("/workspace/exp"))]
    assert config.envs == {"CUDA_CACHE_DISABLE": "1"} and config.docker_options["shm_size"] == "16G"
    assert not load_mounts(tmp_path / "absent.json").exists


@pytest.mark.parametrize("data, message", [
    ({"Mount": []}, "unknown key 'Mount' at the top level — did you mean 'Mounts'?"),
    ({"Mounts": [{"source": "/nonexistent/x", "destination": "/w"}]}, "Mounts[0].source '/nonexistent/x' does not exist"),
    ({"Mounts": [{"source": "relative", "destination": "/w"}]}, "Mounts[0].source 'relative' must be an absolute host path"),
    ({"Mounts": [{"source": "/tmp", "destination": "data"}]}, "Mounts[0].destination 'data' must be an absolute container path"),
    ({"Mounts": [{"source": "/tmp"}]}, "Mounts[0]: \"destination\" is missing"),
    ({"Mounts": [{"source": "/tmp", "destination": "/w", "mode": "ro"}]}, "unknown key 'mode' in this entry"),
    ({"Envs": [{"variable": "A"}]}, "Envs[0]: \"value\" is missing"),
    ({"DockerOptions": {"shm": "1G"}}, "unknown key 'shm' in DockerOptions — did you mean 'shm_size'?"),
    ({"DockerOptions": {"privileged": "yes"}}, "DockerOptions.privileged must be bool"),
    ('{"Mounts": [,]}', "mounts.json:1:13: not valid JSON"),
])
def test_bad_mounts_files_name_the_key(tmp_path, data, message):
    with pytest.raises(LauncherError, match=".*".join(map(__import__("re").escape, message.split("*")))):
        load_mounts(write_mounts(tmp_path, data))


def make_translator(tmp_path):
    (tmp_path / "exp" / "data").mkdir(parents=True)
    (tmp_path / "exp" / "nested").mkdir()
    mounts = [Mount(tmp_path.resolve() / "exp", PurePosixPath("/workspace/exp")),
              Mount(tmp_path.resolve() / "exp" / "nested", PurePosixPath("/nested"))]
    return PathTranslator(mounts, cwd=tmp_path / "exp", mounts_path="mounts.json")


def test_args_are_translated_and_outside_paths_refused(tmp_path):
    translator = make_translator(tmp_path)
    spec = tmp_path / "exp" / "spec.yaml"
    args, specs = translate_args(["-e", str(spec), "-r", "runs/a", "--model=nested/m.pth", "-pth", "0.5",
                                  "dataset.root=data", "model.backbone=resnet18", "model.pruned_model=./nested/p.pth"],
                                 translator)
    # path-valued keys are translated whether or not they exist yet (dataset.root=data does not)
    assert args == ["-e", "/workspace/exp/spec.yaml", "-r", "/workspace/exp/runs/a", "--model=/nested/m.pth",
                    "-pth", "0.5", "dataset.root=/workspace/exp/data", "model.backbone=resnet18",
                    "model.pruned_model=/nested/p.pth"]
    assert specs == [(spec, "/workspace/exp/spec.yaml")]
    assert translator.working_dir() == "/workspace/exp"
    with pytest.raises(LauncherError, match=r"-o .*/elsewhere/out.onnx is outside every mount in mounts.json.*"
                                            r"\"source\": \"" + str(tmp_path)):
        translate_args(["-o", str(tmp_path / "elsewhere" / "out.onnx")], translator)
    with pytest.raises(LauncherError, match="override dataset.root /etc is outside every mount"):
        translate_args(["dataset.root=/etc"], translator)
    # A spec outside every mount is still shown to the container (the launcher mounts its translated copy).
    assert translate_args(["-e", "/tmp/x/s.yaml"], translator)[1] == [(Path("/tmp/x/s.yaml"), "/tao/specs/s.yaml")]


def test_spec_paths_are_translated_in_place(tmp_path):
    translator = make_translator(tmp_path)
    spec = tmp_path / "exp" / "spec.yaml"
    spec.write_text(f"""dataset:
  root: ./data        # relative to the working directory
  image_root: data    # a bare name of a path key, not there yet: translated all the same
  test_list: '{tmp_path}/exp/nested/test.txt'
model:
  backbone: resnet18
  pretrained: imagenet
""")
    text = translate_spec_text(spec, translator)
    assert text.splitlines()[1] == '  root: "/workspace/exp/data"        # relative to the working directory'
    assert text.splitlines()[2].startswith('  image_root: "/workspace/exp/data"')
    assert text.splitlines()[3] == '  test_list: "/nested/test.txt"'
    assert text.splitlines()[4:] == spec.read_text().splitlines()[4:]
    spec.write_text("dataset:\n  root: /var/data\n")
    with pytest.raises(LauncherError, match=r"spec.yaml:2: key 'dataset.root': /var/data is outside every mount"):
        translate_spec_text(spec, translator)


def test_a_relative_results_dir_with_the_working_directory_outside_the_mounts_is_refused(tmp_path):
    """`results_dir: lostrun` from a folder no mount holds: the container would write inside itself and the run's
    results would be lost; refused before anything starts."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "exp").mkdir()
    translator = PathTranslator([Mount(tmp_path / "exp", PurePosixPath("/workspace/exp"))], cwd=outside,
                                mounts_path="mounts.json")
    spec = tmp_path / "exp" / "spec.yaml"
    spec.write_text("results_dir: lostrun\nmodel:\n  pretrained: imagenet\n")
    with pytest.raises(LauncherError, match=r"spec.yaml:1: key 'results_dir': .*outside/lostrun is outside every mount"):
        translate_spec_text(spec, translator)
    with pytest.raises(LauncherError, match=r"override results_dir .*outside/lostrun is outside every mount"):
        translate_args(["results_dir=lostrun"], translator)


def test_the_launchers_path_keys_are_the_schemas_path_fields():
    import dataclasses
    import typing

    from tao_inference.spec.schemas import AugmentSpec
    from tao_inference.tasks import TASKS
    from tao_launcher.paths import is_path_key

    def fields(schema, prefix=""):
        """(dotted key, field) of every leaf, through sections and lists of sections (dataset.train entries)."""
        hints = typing.get_type_hints(schema)
        for f in dataclasses.fields(schema):
            inner = typing.get_args(hints[f.name])[0] if typing.get_origin(hints[f.name]) is list else hints[f.name]
            if dataclasses.is_dataclass(inner):
                yield from fields(inner, f"{prefix}{f.name}.")
            else:
                yield prefix + f.name, f

    for schema in [t.spec_class for t in TASKS.values()] + [AugmentSpec]:
        for key, field in fields(schema):
            assert is_path_key(key) == field.metadata["path"], key


def test_gpu_flags_become_device_requests():
    args, request = split_gpu_flags(["-e", "s.yaml", "--gpus", "2", "--gpu_index=0,3", "x=1"])
    assert args == ["-e", "s.yaml", "x=1"] and request == GpuRequest("2", ("0", "3"))
    (indexed,) = docker_device_requests(request, nvidia_available=True)
    assert indexed["Driver"] == "nvidia" and indexed["DeviceIDs"] == ["0", "3"] and indexed["Capabilities"] == [["gpu"]]
    (every,) = docker_device_requests(GpuRequest(), nvidia_available=True)
    assert every["Count"] == -1
    assert docker_device_requests(GpuRequest(), nvidia_available=False) == []  # CPU-only host: no error
    with pytest.raises(LauncherError, match="no NVIDIA runtime"):
        docker_device_requests(GpuRequest("1"), nvidia_available=False)
    for bad in (["--gpus", "0"], ["--gpu_index", "a"], ["--gpus", "1", "--gpu_index", "0,1"], ["--gpus"]):
        with pytest.raises(LauncherError):
            split_gpu_flags(bad)


def test_image_names_follow_config_and_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("TAO_CONFIG", str(tmp_path / "config.json"))
    assert image_for("cv") == "tao-toolkit-oss/cv:0.1.0"
    monkeypatch.setenv("TAO_DOCKER_REGISTRY", "registry.example.com:5000/team/")
    assert image_for("cv") == "registry.example.com:5000/team/tao-toolkit-oss/cv:0.1.0"
    (tmp_path / "config.json").write_text('{"images": {"cv": "mine/cv:dev"}}')
    assert image_for("cv") == "mine/cv:dev" and image_for("deploy").endswith("tao-toolkit-oss/deploy:0.1.0")
    (tmp_path / "config.json").write_text('{"images": {"cvv": "x"}}')
    with pytest.raises(LauncherError, match="images.cvv is not a worker"):
        image_for("cv")


def test_tao_container_paths_pass_to_docker_and_map_to_the_host_locally(tmp_path):
    """TAO specs and commands name container paths (/workspace/...): kept for a container that mounts them; the
    local runtime reads them as the host folders mounted there."""
    translator = make_translator(tmp_path)
    # Docker: a path under a destination is already where the container sees it
    args, _ = translate_args(["-m", "/workspace/exp/weights/best.pth", "dataset.root=/workspace/exp/data"], translator)
    assert args == ["-m", "/workspace/exp/weights/best.pth", "dataset.root=/workspace/exp/data"]
    prototext = tmp_path / "exp" / "spec.txt"
    prototext.write_text('model_config {\n  arch: "resnet"\n}\n')
    assert translate_spec_text(prototext, translator) == prototext.read_text()  # TAO's protobuf text: as written
    # local runtime: container paths back to the host; everything else as given
    args = host_args(["-r", "/workspace/exp/results", "-e", "spec.txt", "--model=/workspace/exp/m.pth",
                      "training_config.num_epochs=3", "dataset.root=/workspace/exp/d", "-i", "/elsewhere"], translator)
    assert args == ["-r", str(tmp_path / "exp" / "results"), "-e", "spec.txt", f"--model={tmp_path / 'exp' / 'm.pth'}",
                    "training_config.num_epochs=3", f"dataset.root={tmp_path / 'exp' / 'd'}", "-i", "/elsewhere"]
