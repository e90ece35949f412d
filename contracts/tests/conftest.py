"""Put the real `contracts` package back before any test here imports it.

pytest's importlib import mode names the modules of this directory
`contracts.tests.*` (their path from the rootdir) and imports that parent first,
from the repository root, where `contracts/` is the project directory: `contracts`
becomes an empty namespace package, and every later `from contracts.events ...`,
here or in any other test of the session, fails. The real package is the one on
sys.path (`contracts/contracts/`).
"""

import importlib
import sys

if getattr(sys.modules.get("contracts"), "__file__", None) is None:
    sys.modules.pop("contracts", None)
    importlib.import_module("contracts")
