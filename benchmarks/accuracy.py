"""How well does each score separate type I interferon-stimulated samples from the rest?

    python benchmarks/accuracy.py --data PATH --samples SHEET.csv [--scale S] [--out DIR]
    python benchmarks/accuracy.py --example --samples benchmarks/data/example_samples.csv

Scores the data (read once) with every method x signature, calibrating limits on the sheet's
control=true samples, and writes ``accuracy.csv``, ``accuracy.md`` and ``scores.csv`` to
``--out``. The same as ``ifnscore bench --accuracy``; the code is ``ifnscore._accuracy``
(see its docstring for the sample sheet and every column). Results: benchmarks/RESULTS.md
("Accuracy on real data") and docs/accuracy.md.
"""

from __future__ import annotations

import sys

from ifnscore._accuracy import main

if __name__ == "__main__":
    sys.exit(main())
