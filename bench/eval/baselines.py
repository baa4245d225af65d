"""Baselines of `cargo xtask eval`: the `implicit` package's ALS, BPR and item-kNN (BM25) on the
split the xtask wrote, fitted and asked for top-k lists here; the xtask scores the lists with
the same metric code as Orbita's own models.

Usage: python baselines.py DIR K
  DIR/train.csv, DIR/test.csv: `user,item` rows with dense numbers (test is not read here).
  Writes DIR/recs-NAME.txt (one line per user: `user item item ...`, best first) and prints one
  JSON object per model: {"model", "settings", "fit_s", "recs"}.
"""

import json
import os
import sys
import time

# implicit parallelises itself; a second thread pool inside BLAS only slows it down.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from implicit.als import AlternatingLeastSquares  # noqa: E402
from implicit.bpr import BayesianPersonalizedRanking  # noqa: E402
from implicit.nearest_neighbours import BM25Recommender  # noqa: E402


def read_pairs(path):
    data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)
    return data[:, 0], data[:, 1]


def main():
    out_dir, k = sys.argv[1], int(sys.argv[2])
    users, items = read_pairs(os.path.join(out_dir, "train.csv"))
    n_users, n_items = int(users.max()) + 1, int(items.max()) + 1
    matrix = sp.csr_matrix(
        (np.ones(len(users), dtype=np.float32), (users, items)), shape=(n_users, n_items)
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    # Rank only over products seen in train, as for Orbita's models.
    unseen = np.flatnonzero(np.asarray(matrix.sum(axis=0)).ravel() == 0)
    models = [
        (
            "implicit ALS",
            "factors=64 regularization=100 alpha=20 iterations=50 (handbook)",
            AlternatingLeastSquares(
                factors=64, regularization=100.0, alpha=20.0, iterations=50, random_state=42
            ),
        ),
        (
            "implicit BPR",
            "defaults: factors=100 learning_rate=0.01 regularization=0.01 iterations=100",
            BayesianPersonalizedRanking(random_state=42),
        ),
        (
            "implicit item-kNN BM25",
            "K=500 K1=1.2 B=0.75",
            BM25Recommender(K=500),
        ),
    ]
    everyone = np.arange(n_users)
    for name, settings, model in models:
        started = time.perf_counter()
        model.fit(matrix, show_progress=False)
        fit_s = time.perf_counter() - started
        ids, _ = model.recommend(
            everyone, matrix, N=k, filter_already_liked_items=True, filter_items=unseen
        )
        path = os.path.join(out_dir, "recs-" + name.replace(" ", "-") + ".txt")
        with open(path, "w") as f:
            for user in everyone:
                row = [str(int(i)) for i in ids[user] if i >= 0]
                f.write(" ".join([str(user)] + row) + "\n")
        print(json.dumps({"model": name, "settings": settings, "fit_s": fit_s, "recs": path}))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
