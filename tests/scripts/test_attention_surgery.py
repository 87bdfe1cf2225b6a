"""scripts/attention_surgery.py: the switch-off and faithfulness figures of docs/ATTENTION.md, and
--along-training, the same figures at each snapshot a model ships (how they grew over training)."""
import importlib.util
import json
from pathlib import Path

import pytest

from attn_demo.models.snapshots import save_snapshots
from conftest import make_model_dir, tiny_generator

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "attention_surgery.py"


def _script():
    spec = importlib.util.spec_from_file_location("attention_surgery", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_along_training_measures_each_snapshot_with_the_same_clicks(tmp_path):
    """Step 0's attention is the identity (gamma 0): switching it off changes nothing; the last
    snapshot is the shipped generator itself, so its figures are the model's."""
    model = make_model_dir(tmp_path / "tiny32", seed=2)
    save_snapshots(model, [(0, tiny_generator(seed=1, gamma=0.0)), (100, tiny_generator(seed=2))])
    out = tmp_path / "surgery.json"
    _script().main(["--weights", str(model), "--seeds", "0-1", "--clicks", "6", "--draws", "2",
                    "--along-training", "--json", str(out)])
    figures = json.loads(out.read_text())["models"]["tiny32"]
    steps = figures["along_training"]
    assert sorted(steps, key=int) == ["0", "100"]
    for layer, first in steps["0"].items():
        assert first["gamma"] == 0.0 and first["switch_off"]["mean_change_grey"] == 0.0
        assert first["faithfulness"]["ratio_median"] is None and first["faithfulness"]["undefined"] == 6
        last, shipped = steps["100"][layer], figures["layers"][layer]
        assert last["switch_off"]["mean_change_grey"] > 0.1
        assert last["switch_off"] == pytest.approx(shipped["switch_off"], rel=1e-2)    # fp16 snapshot
        assert last["faithfulness"]["clicks"] == 6


def test_along_training_without_snapshots_says_so(tmp_path):
    model = make_model_dir(tmp_path / "plain32")
    with pytest.raises(SystemExit, match="ships no snapshots"):
        _script().main(["--weights", str(model), "--seeds", "0", "--clicks", "2", "--draws", "1",
                        "--along-training"])
