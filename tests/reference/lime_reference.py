#!/usr/bin/python3
"""Independent reference for the LIME building blocks, using scikit-learn as the reference
`lime_image` explainer does (Debian python3-sklearn):

    lime_reference.py DIR

reads DIR/X.npy (samples x features, 0/1), DIR/y.npy, DIR/w.npy and prints JSON with
- Ridge(alpha=1, fit_intercept=True).fit(X, y, sample_weight=w): coef, intercept,
  score (weighted R^2) and the prediction for row 0;
- sklearn.metrics.pairwise_distances(X, X[0:1], metric="cosine") and the LIME kernel
  sqrt(exp(-d^2 / 0.25^2)) on them.
"""
import json
import sys

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.metrics import pairwise_distances

d = sys.argv[1]
X = np.load(f"{d}/X.npy").astype(np.float64)
y = np.load(f"{d}/y.npy").astype(np.float64)
w = np.load(f"{d}/w.npy").astype(np.float64)
model = Ridge(alpha=1.0, fit_intercept=True).fit(X, y, sample_weight=w)
distances = pairwise_distances(X, X[0].reshape(1, -1), metric="cosine").ravel()
kernel = np.sqrt(np.exp(-(distances**2) / 0.25**2))
print(json.dumps({
    "coef": model.coef_.tolist(),
    "intercept": float(model.intercept_),
    "r2": float(model.score(X, y, sample_weight=w)),
    "local_prediction": float(model.predict(X[0:1])[0]),
    "distances": distances.tolist(),
    "kernel": kernel.tolist(),
}))
