"""The package version, in one place (``pyproject.toml`` repeats it; a test checks that they agree).
It imports nothing, so any module may read it."""
__version__ = "0.1.0"
