"""asv benchmarks of ifnscore (``cd benchmarks && asv run --python=same --quick``).

With ``--python=same`` the suite measures the checkout it lives in (its root goes first on
``sys.path``), not whatever ifnscore the interpreter has installed.
"""

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
if (_ROOT / "ifnscore" / "__init__.py").is_file() and str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))
