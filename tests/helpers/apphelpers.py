"""Checks shared by the application smoke tests."""
import math

from rnnkit.apps.common import AppResult


def check_app_result(result, tmp_path):
    """A sane AppResult: finite figures, a baseline, a trained model, and plots that draw to PNG files."""
    assert isinstance(result, AppResult)
    assert result.task and result.data and result.metric and result.baseline_name
    assert math.isfinite(result.value) and result.baseline is not None and math.isfinite(result.baseline)
    assert result.seconds > 0 and result.model is not None
    assert result.history["loss"] and all(math.isfinite(v) for v in result.history["loss"])
    assert result.plots
    for name, draw in result.plots.items():
        draw(tmp_path / name)
        assert (tmp_path / name).is_file() and (tmp_path / name).stat().st_size > 1000
