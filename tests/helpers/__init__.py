"""Helpers shared by the tests: finite differences (``gradcheck``), the cell kinds (``cells``) and the
checks of application results (``apphelpers``)."""
