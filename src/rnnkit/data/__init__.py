"""Data utilities and dataset loaders."""
