"""rnnkit's test suite, laid out like the package (ops/, layers/, model/, interop/, data/, apps/).

``tests`` and its folders are packages, so that test modules have unique names under pytest's
default import mode and the shared helpers import as ``tests.helpers.<module>``.
"""
