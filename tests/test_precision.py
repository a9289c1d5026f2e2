"""Precision: fp32 by default (TF32 off on CUDA), opt-in tf32 and fp16, whose deviation from
fp32 is bounded; GPU provider options are chosen by name and checked here on CPU."""

from __future__ import annotations

import numpy as np
import pytest

from hail_seqscore.engine import Engine, EngineConfig
from hail_seqscore.errors import ConfigError, ModelNotInstalledError
from hail_seqscore.models.registry import precision_path
from hail_seqscore.models.session import (ModelSession, choose_providers, get_session,
                                          provider_options)
from hail_seqscore.records import Variant
from toy_models import build_toy_model

GPU_BUILD = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
CPU_BUILD = ["CPUExecutionProvider"]


def test_fp32_turns_tf32_off_on_cuda():
    chosen = choose_providers(None, GPU_BUILD)
    assert provider_options(chosen) == [("CUDAExecutionProvider", {"use_tf32": "0"}),
                                        "CPUExecutionProvider"]


def test_tf32_needs_cuda_and_turns_it_on():
    chosen = choose_providers(None, GPU_BUILD, precision="tf32")
    assert provider_options(chosen, "tf32")[0] == ("CUDAExecutionProvider", {"use_tf32": "1"})
    with pytest.raises(ConfigError, match="tf32 needs the CUDA"):
        choose_providers(None, CPU_BUILD, precision="tf32")


def test_fp16_enables_tensorrt_fp16():
    opts = provider_options(choose_providers(None, GPU_BUILD, precision="fp16"), "fp16")
    assert opts[0] == ("TensorrtExecutionProvider", {"trt_fp16_enable": "True"})
    assert opts[-1] == "CPUExecutionProvider"


def test_bad_precision_is_a_config_error():
    with pytest.raises(ConfigError, match="precision must be one of"):
        EngineConfig(reference="x.fa", precision="fp8")
    with pytest.raises(ConfigError, match="precision must be one of"):
        choose_providers(None, CPU_BUILD, precision="bf8")


def test_fp16_copy_of_a_graph_is_close_but_not_equal(tmp_path):
    onnx = pytest.importorskip("onnx", reason="needs the export extra")
    from export.onnx_export import _write_fp16

    path = build_toy_model(tmp_path / "toy.onnx", context=60)
    half = precision_path(path, "fp16")
    assert half.name == "toy.fp16.onnx"
    _write_fp16(path, half)
    x = np.eye(4, dtype=np.float32)[np.random.default_rng(0).integers(0, 4, (3, 200))]
    y32 = ModelSession(path, threads=1).predict(x)
    y16 = ModelSession(half, threads=1, precision="fp16").predict(x)
    assert y16.dtype == np.float32 and y16.shape == y32.shape
    assert not np.array_equal(y16, y32)
    np.testing.assert_allclose(y16, y32, atol=5e-3)
    assert {i.data_type for i in onnx.load(str(half)).graph.initializer} == {
        onnx.TensorProto.FLOAT16}
    # each graph only runs at its own precision
    with pytest.raises(ConfigError, match="holds an fp16 graph"):
        ModelSession(half, threads=1)
    with pytest.raises(ConfigError, match="holds an fp32 graph"):
        ModelSession(path, threads=1, precision="fp16")


def test_fp16_without_its_export_names_the_command(tmp_path):
    path = build_toy_model(tmp_path / "toy.onnx", context=60)
    with pytest.raises(ModelNotInstalledError, match="--fp16"):
        get_session(path, precision="fp16")


@pytest.mark.slow
def test_fp16_real_model_deviates_slightly(shared_data, spliceai_onnx):
    pytest.importorskip("torch", reason="needs the export extra")
    from export.onnx_export import export_model

    export_model("spliceai", spliceai_onnx, fp16=True)
    d = shared_data / "grch38_chr21"
    vs = []
    for line in open(d / "dbsnp_snvs.vcf"):
        if not line.startswith("#"):
            f = line.split("\t")
            vs += [Variant(f[0], int(f[1]), f[3], a) for a in f[4].split(",")]
    vs = vs[::6]
    cfg = dict(model=str(spliceai_onnx), reference=str(d / "chr21.fa.gz"),
               annotation=str(d / "genes.grch38.spliceai.txt"))
    e16 = Engine(EngineConfig(**cfg, precision="fp16"))
    assert e16.session.path.name.endswith(".fp16.onnx") and e16.split_model is not None
    assert e16.provenance()["precision"] == "fp16"
    r32 = Engine(EngineConfig(**cfg)).score(vs)
    r16 = e16.score(vs)
    m, n = 0.0, 0
    for a, b in zip(r32, r16):
        for s, t in zip(a.scores, b.scores):
            if s.scored:
                n += 1
                m = max(m, *(abs(p - q) for p, q in zip(
                    (s.ds_ag, s.ds_al, s.ds_dg, s.ds_dl), (t.ds_ag, t.ds_al, t.ds_dg, t.ds_dl))))
    assert n > 10 and 0 < m < 0.01


def test_tf32_without_cuda_fails_with_the_reason(tmp_path):
    from hail_seqscore.models.session import available_providers

    if "CUDAExecutionProvider" in available_providers():
        pytest.skip("this machine has CUDA: tf32 loads here")
    path = build_toy_model(tmp_path / "toy.onnx", context=60)
    with pytest.raises(ConfigError, match="tf32 needs the CUDA execution provider"):
        ModelSession(path, precision="tf32")
