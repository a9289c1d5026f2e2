"""A small reader for TensorFlow frozen ``GraphDef`` files, written against the protobuf wire
format, so that reading CI-SpliceAI's ``.pb`` needs neither TensorFlow nor ``protobuf``.

Only the messages a frozen inference graph uses are decoded: GraphDef → NodeDef → AttrValue
(with its ListValue) → TensorProto / TensorShapeProto.  Field numbers follow TensorFlow's
``graph.proto``, ``node_def.proto``, ``attr_value.proto``, ``tensor.proto`` and
``tensor_shape.proto``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from hail_seqscore.errors import WeightMappingError

# TensorFlow DataType enum → numpy dtype (only the types a frozen graph of this kind holds).
DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8,
          9: np.int64, 10: np.bool_}


class _Truncated(ValueError):
    pass


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise _Truncated("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: memoryview) -> Iterator[tuple[int, int, object]]:
    """Yield ``(field_number, wire_type, value)``; value is an int or a memoryview slice."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, pos = _varint(buf, pos)
        elif wt == 1:
            val, pos = buf[pos:pos + 8], pos + 8
        elif wt == 2:
            n, pos = _varint(buf, pos)
            if pos + n > end:
                raise _Truncated("truncated length-delimited field")
            val, pos = buf[pos:pos + n], pos + n
        elif wt == 5:
            val, pos = buf[pos:pos + 4], pos + 4
        else:
            raise _Truncated(f"unsupported wire type {wt}")
        yield num, wt, val


def _signed64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _packed_varints(val, wt) -> list[int]:
    if wt == 0:
        return [_signed64(val)]
    out, pos = [], 0
    while pos < len(val):
        v, pos = _varint(val, pos)
        out.append(_signed64(v))
    return out


def _packed_floats(val, wt) -> list[float]:
    raw = bytes(val)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def _shape(buf: memoryview) -> tuple[int, ...] | None:
    dims: list[int] = []
    for num, _, val in _fields(buf):
        if num == 2:  # Dim
            size = 0
            for n2, _, v2 in _fields(val):
                if n2 == 1:
                    size = _signed64(v2)
            dims.append(size)
        elif num == 3 and val:  # unknown_rank
            return None
    return tuple(dims)


def _tensor(buf: memoryview) -> np.ndarray:
    dtype_code, shape, content = 1, (), None
    floats: list[float] = []
    ints: list[int] = []
    for num, wt, val in _fields(buf):
        if num == 1:
            dtype_code = val
        elif num == 2:
            shape = _shape(val) or ()
        elif num == 4:
            content = bytes(val)
        elif num == 5:
            floats += _packed_floats(val, wt)
        elif num == 6:
            floats += list(struct.unpack(f"<{len(val) // 8}d", bytes(val)))
        elif num in (7, 10, 11):
            ints += _packed_varints(val, wt)
    if dtype_code not in DTYPES:
        raise WeightMappingError(f"GraphDef tensor of unsupported dtype code {dtype_code}")
    dtype = np.dtype(DTYPES[dtype_code])
    count = int(np.prod(shape)) if shape else 1
    if content is not None:
        arr = np.frombuffer(content, dtype=dtype.newbyteorder("<")).astype(dtype)
    else:
        vals = floats if dtype.kind == "f" else ints
        arr = np.asarray(vals, dtype=dtype)
        if arr.size == 1 and count > 1:  # a splat: one value stands for all
            arr = np.full(count, arr[0], dtype=dtype)
        elif arr.size == 0:
            arr = np.zeros(count, dtype=dtype)
    return arr.reshape(shape)


def _list_value(buf: memoryview) -> list:
    out: list = []
    for num, wt, val in _fields(buf):
        if num == 2:
            out.append(bytes(val).decode())
        elif num in (3, 5, 6):
            out += _packed_varints(val, wt)
        elif num == 4:
            out += _packed_floats(val, wt)
        elif num == 7:
            out.append(_shape(val))
        elif num == 8:
            out.append(_tensor(val))
    return out


def _attr_value(buf: memoryview):
    for num, wt, val in _fields(buf):
        if num == 1:
            return _list_value(val)
        if num == 2:
            return bytes(val).decode(errors="replace")
        if num == 3:
            return _signed64(val)
        if num == 4:
            return struct.unpack("<f", bytes(val))[0]
        if num == 5:
            return bool(val)
        if num == 6:
            return ("dtype", val)
        if num == 7:
            return _shape(val)
        if num == 8:
            return _tensor(val)
        if num == 9:
            return ("placeholder", bytes(val).decode())
    return None


@dataclass
class Node:
    name: str
    op: str
    inputs: list[str] = field(default_factory=list)
    attr: dict[str, object] = field(default_factory=dict)

    @property
    def data_inputs(self) -> list[str]:
        """Inputs without control dependencies (``^name``) and without the ``:0`` suffix."""
        return [i.split(":")[0] for i in self.inputs if not i.startswith("^")]


def _node(buf: memoryview) -> Node:
    node = Node(name="", op="")
    for num, _, val in _fields(buf):
        if num == 1:
            node.name = bytes(val).decode()
        elif num == 2:
            node.op = bytes(val).decode()
        elif num == 3:
            node.inputs.append(bytes(val).decode())
        elif num == 5:
            key, value = "", None
            for n2, _, v2 in _fields(val):
                if n2 == 1:
                    key = bytes(v2).decode()
                elif n2 == 2:
                    value = _attr_value(v2)
            node.attr[key] = value
    return node


def read_graphdef(data: bytes, *, source: str = "GraphDef") -> list[Node]:
    """Decode a serialized ``GraphDef`` into its nodes, in file order."""
    try:
        nodes = [_node(val) for num, _, val in _fields(memoryview(data)) if num == 1]
    except _Truncated as exc:
        raise WeightMappingError(f"{source}: not a valid TensorFlow GraphDef ({exc})") from None
    if not nodes or not all(n.name and n.op for n in nodes):
        raise WeightMappingError(f"{source}: not a TensorFlow GraphDef (no named nodes)")
    return nodes


def read_graphdef_file(path) -> list[Node]:
    with open(path, "rb") as fh:
        return read_graphdef(fh.read(), source=str(path))
