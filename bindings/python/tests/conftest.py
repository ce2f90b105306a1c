# Tests import the package from this checkout (bindings/python) unless
# MMGEN_PY_INSTALLED is set to test an installed copy instead.
import os
import pathlib
import sys

if not os.environ.get("MMGEN_PY_INSTALLED"):
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
