"""Execution providers are chosen by availability (GPU first when present), tested on CPU;
sessions are per process and read everything from the ONNX metadata."""

import os

import numpy as np
import pytest

from hail_seqscore.errors import ConfigError, ModelFormatError
from hail_seqscore.models.session import ModelSession, choose_providers, get_session
from toy_models import build_toy_model

GPU_BUILD = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]


def test_gpu_providers_preferred_when_present():
    # fp32 (the default) skips TensorRT, which may pick TF32 kernels; fp16 uses it first
    assert choose_providers(None, GPU_BUILD) == GPU_BUILD[1:]
    assert choose_providers(None, GPU_BUILD, precision="fp16") == GPU_BUILD
    assert choose_providers(None, ["CUDAExecutionProvider", "CPUExecutionProvider"]) == [
        "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers(None, ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    # an explicit choice keeps CPU as the fallback
    assert choose_providers(["CUDAExecutionProvider"], GPU_BUILD) == [
        "CUDAExecutionProvider", "CPUExecutionProvider"]


def test_unavailable_provider_is_a_clear_error():
    with pytest.raises(ConfigError, match="CUDAExecutionProvider.*not available"):
        choose_providers(["CUDAExecutionProvider"], ["CPUExecutionProvider"])


def test_session_reads_spec_from_metadata(tmp_path):
    path = build_toy_model(tmp_path / "toy.onnx", context=60)
    s = ModelSession(path, threads=1)
    assert s.spec.context == 60 and s.spec.output_channels == ("neither", "acceptor", "donor")
    assert s.providers == ["CPUExecutionProvider"]
    y = s.predict(np.zeros((2, 100, 4), dtype=np.float32))
    assert y.shape == (2, 40, 3)
    np.testing.assert_allclose(y.sum(axis=2), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="must exceed context"):
        s.predict(np.zeros((1, 60, 4), dtype=np.float32))
    assert len(s.sha256) == 64 and s.provenance()["context"] == 60


def test_one_session_per_process(tmp_path):
    path = build_toy_model(tmp_path / "toy.onnx")
    a, b = get_session(str(path)), get_session(str(path))
    assert a is b
    pid = os.fork()
    if pid == 0:  # the child must build its own session, never reuse the parent's
        c = get_session(str(path))
        os._exit(0 if c is not a else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0


def test_onnx_without_seqscore_metadata_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(tmp_path / "plain.onnx"))
    with pytest.raises(ModelFormatError, match="seqscore export"):
        ModelSession(tmp_path / "plain.onnx")
