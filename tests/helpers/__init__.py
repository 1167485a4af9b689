"""Code the tests run in subprocesses (importable as ``helpers.*`` with tests/ on the path)."""
