"""Writes data/iris/iris.csv from scikit-learn's copy of Fisher's iris data.

    pip download scikit-learn --no-deps -d /tmp/skl && cd /tmp/skl && unzip -o *.whl 'sklearn/datasets/data/iris.csv'
    python3 scripts/make_iris_csv.py /tmp/skl/sklearn/datasets/data/iris.csv

The values are unchanged; the file gets a header with column names, and the rows (stored by
class) are shuffled once with a fixed seed so that a `test_split` from the end holds every
class.
"""

import random
import sys

rows = open(sys.argv[1]).read().split("\n")[1:]
rows = [r for r in rows if r.strip()]
assert len(rows) == 150, len(rows)
random.Random(1936).shuffle(rows)
with open("data/iris/iris.csv", "w") as f:
    f.write("sepal_length,sepal_width,petal_length,petal_width,species\n")
    f.write("\n".join(rows) + "\n")
