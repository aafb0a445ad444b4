"""Save a trained network to JSON and load it back, bit for bit.

Model files are plain JSON (never pickle): readable, diffable, and safe to
load from anywhere, since `MLP.load` validates every field.

    python examples/save_and_load.py
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from microgrid import MLP, fit
from microgrid.datasets import xor


def main() -> int:
    X, y = xor(40, noise=0.1, seed=0, signed=True)
    net = MLP(2, [8, 1], activation="tanh", seed=0)
    fit(net, X, y, loss="hinge", epochs=60, lr=0.2, progress=False)

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "xor.json"
        net.save(path)
        document = json.loads(path.read_text(encoding="utf-8"))
        print(f"{path.name}: format {document['format']!r} version {document['version']}, "
              f"sizes {document['sizes']}, {path.stat().st_size} bytes")
        loaded = MLP.load(path)

    same_weights = [p.data for p in loaded.parameters()] == [p.data for p in net.parameters()]
    same_outputs = all(loaded(x)[0].data == net(x)[0].data for x in X)
    print(f"loaded {loaded}")
    print(f"same weights: {same_weights}, same outputs on all {len(X)} points: {same_outputs}")
    return 0 if same_weights and same_outputs else 1


if __name__ == "__main__":
    raise SystemExit(main())
