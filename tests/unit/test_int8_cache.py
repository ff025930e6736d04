import struct

from tao_cv.export.int8 import trt_cache_text


def test_trt_calibration_cache_format():
    text = trt_cache_text({"input": 127.0, "conv1_out": 2.54}, version=8601)
    lines = text.splitlines()
    assert lines[0] == "TRT-8601-EntropyCalibration2"
    entries = dict(line.split(": ") for line in lines[1:])
    assert entries["input"] == "3f800000"  # 127 / 127 = 1.0 as big-endian float32
    assert struct.unpack(">f", bytes.fromhex(entries["conv1_out"]))[0] == struct.unpack(">f", struct.pack(">f", 0.02))[0]
