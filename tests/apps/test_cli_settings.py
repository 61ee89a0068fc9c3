"""Command-line settings a careless user gets wrong: list-valued options, output paths, empty
choices (each a clear `rnnkit: error:` with the right exit code)."""
import numpy as np

from rnnkit.cli import main
from rnnkit.layers import GRU, Dense
from rnnkit.model import Sequential


def test_a_list_option_given_a_scalar_is_a_usage_error(tmp_path, capsys):
    assert main(["train", "speech-vowels", "--quick", "--set", "seeds=3", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "rnnkit: error: --set seeds=3: expected a JSON list" in err and "Traceback" not in err


def test_stocks_fractions_must_be_three(tmp_path, capsys):
    assert main(["train", "stocks", "--quick", "--epochs", "1", "--set", "fractions=[0.5,0.5]",
                 "--out", str(tmp_path / "r")]) == 1
    assert "fractions: expected [train, validation, test], three fractions" in capsys.readouterr().err


def test_predict_writes_the_output_file_it_is_given(tmp_path, capsys):
    model = Sequential([GRU(3), Dense(2)]).compile("mse")
    model.build(2)
    model.save(tmp_path / "m.npz")
    X = np.random.default_rng(0).standard_normal((4, 5, 2)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    assert main(["predict", str(tmp_path / "m.npz"), str(tmp_path / "x.npy"), "--output", str(tmp_path / "out")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "out"), model.predict(X))
    assert not (tmp_path / "out.npy").exists()


def test_demo_apps_needs_at_least_one_name(capsys):
    assert main(["demo", "--apps"]) == 2
    assert "rnnkit: error:" in capsys.readouterr().err
