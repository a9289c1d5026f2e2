"""Weight readers without TensorFlow: the protobuf wire reader, Keras HDF5, frozen GraphDef,
and the name/topology-based mapping that refuses anything it cannot place."""

from __future__ import annotations

import struct

import numpy as np
import pytest

pytest.importorskip("h5py", reason="needs the export extra: pip install '.[export]'")

from export.graphdef import read_graphdef  # noqa: E402
from export.keras_h5 import read_keras_h5  # noqa: E402
from export.layers import Layer, state_dict_from_layers  # noqa: E402
from export.tf_frozen import read_frozen_graph  # noqa: E402

from hail_seqscore.errors import WeightMappingError  # noqa: E402


# ---- a tiny protobuf writer, for hand-made GraphDefs ------------------------------------------
def _varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b, v = v & 0x7F, v >> 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def _field(num: int, payload: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def _vfield(num: int, value: int) -> bytes:
    return _varint(num << 3) + _varint(value)


def _node(name, op, inputs=(), attrs=()) -> bytes:
    body = _field(1, name.encode()) + _field(2, op.encode())
    body += b"".join(_field(3, i.encode()) for i in inputs)
    for key, value in attrs:
        body += _field(5, _field(1, key.encode()) + _field(2, value))
    return _field(1, body)


def _tensor_attr(values: np.ndarray) -> bytes:
    shape = b"".join(_field(2, _vfield(1, d)) for d in values.shape)
    tensor = _vfield(1, 1) + _field(2, shape) + _field(4, values.astype("<f4").tobytes())
    return _field(8, tensor)


def test_wire_reader_decodes_nodes_attrs_and_tensors():
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    data = _node("x", "Placeholder", attrs=[("dtype", _vfield(6, 1))])
    data += _node("w", "Const", attrs=[("value", _tensor_attr(w)), ("dtype", _vfield(6, 1))])
    data += _node("y", "MatMul", ["x", "w:0", "^ctl"],
                  attrs=[("transpose_a", _vfield(5, 0)),
                         ("padding", _field(2, b"SAME")),
                         ("eps", _varint(4 << 3 | 5) + struct.pack("<f", 0.25)),
                         ("strides", _field(1, _field(3, b"".join(_varint(v) for v in (1, 2)))))])
    nodes = read_graphdef(data)
    assert [n.name for n in nodes] == ["x", "w", "y"]
    np.testing.assert_array_equal(nodes[1].attr["value"], w)
    y = nodes[2]
    assert y.data_inputs == ["x", "w"]
    assert y.attr["padding"] == "SAME" and y.attr["eps"] == 0.25
    assert y.attr["strides"] == [1, 2] and y.attr["transpose_a"] is False


def test_wire_reader_rejects_garbage():
    good = _node("x", "Placeholder")
    with pytest.raises(WeightMappingError, match="GraphDef"):
        read_graphdef(good[:-3])
    with pytest.raises(WeightMappingError, match="GraphDef"):
        read_graphdef(b"\x0a\xff\xff\xff\xff\x0f")


# ---- the real files -------------------------------------------------------------------------
def test_spliceai_h5_maps_completely(model_weights):
    for path in model_weights("spliceai"):
        graph = read_keras_h5(path)
        assert sum(l.kind == "conv" for l in graph.layers.values()) == 39
        assert sum(l.kind == "bn" for l in graph.layers.values()) == 32
        state = state_dict_from_layers(graph, "1d")
        assert state["units.15.conv2.weight"].shape == (32, 32, 41)
        assert state["head.weight"].shape == (3, 32, 1)


def test_cispliceai_pb_has_five_distinct_members(model_weights):
    (pb,) = model_weights("cispliceai")
    members = read_frozen_graph(pb)
    assert len(members) == 5
    states = [state_dict_from_layers(m, "2d") for m in members]
    assert all(s["units.12.conv1.weight"].shape == (32, 32, 1, 41) for s in states)
    assert members[0].layers["conv1d_30"].dilation == 25
    assert members[0].layers["conv1d_30"].padding == "same"
    for a in range(5):
        for b in range(a + 1, 5):
            assert not np.array_equal(states[a]["stem.weight"], states[b]["stem.weight"])


def test_unmapped_weights_fail_loudly(model_weights):
    graph = read_keras_h5(model_weights("spliceai")[0])
    graph.layers["stray"] = Layer(name="stray", kind="conv", inbound=["conv1d_39"], kernel=1,
                                  weights={"kernel": np.zeros((1, 3, 3)), "bias": np.zeros(3)})
    with pytest.raises(WeightMappingError, match="stray"):
        state_dict_from_layers(graph)


def test_wrong_topology_fails_loudly(model_weights):
    graph = read_keras_h5(model_weights("spliceai")[0])
    graph.layers["conv1d_30"].dilation = 24
    with pytest.raises(WeightMappingError, match="conv1d_30"):
        state_dict_from_layers(graph)
    graph = read_keras_h5(model_weights("spliceai")[0])
    del graph.layers["conv1d_20"]  # a skip conv
    with pytest.raises(WeightMappingError, match="skip"):
        state_dict_from_layers(graph)
