"""Make ``predictions.npz`` with AI-TAC's original code (run once; ``provenance.json`` says how).

    python tests/data/aitac/make_fixture.py PATH/TO/AI-TAC/code/aitac.py COMMIT

Builds the original ``aitac.ConvNet(81, 300)``, loads the weights of
``tests/test_export_aitac.py::aitac_state`` with ``load_state_dict(strict=True)`` (as AI-TAC's
scripts load ``models/<name>.ckpt``), runs it in eval mode on ``aitac_inputs()`` and saves the
inputs and its ``predictions`` (the first of the three outputs of ``forward``) beside this file,
with ``provenance.json`` (sha256 of the aitac.py used, torch version, weights digest).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import platform
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))            # tests/

from test_export_aitac import aitac_inputs, aitac_state, state_digest  # noqa: E402


def main(aitac_py: str, commit: str) -> None:
    spec = importlib.util.spec_from_file_location("aitac", aitac_py)
    aitac = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(aitac)
    state = aitac_state()
    model = aitac.ConvNet(81, 300)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    model.eval()
    x = aitac_inputs()
    with torch.no_grad():
        predictions, _, _ = model(torch.from_numpy(x))
    np.savez_compressed(HERE / "predictions.npz", inputs=x,
                        predictions=predictions.numpy().astype(np.float32))
    provenance = {
        "tool": f"AI-TAC code/aitac.py, github.com/smaslova/AI-TAC @ {commit}",
        "aitac_py_sha256": hashlib.sha256(Path(aitac_py).read_bytes()).hexdigest(),
        "class": "aitac.ConvNet(num_classes=81, num_filters=300), eval mode",
        "weights": "tests/test_export_aitac.py::aitac_state(seed=2020)",
        "weights_digest": state_digest(state),
        "inputs": "tests/test_export_aitac.py::aitac_inputs(seed=2021, n=6)",
        "torch": torch.__version__, "numpy": np.__version__,
        "python": platform.python_version(),
    }
    (HERE / "provenance.json").write_text(json.dumps(provenance, indent=1) + "\n")
    print(f"predictions {tuple(predictions.shape)}, max |p| {predictions.abs().max():.3f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
