#!/usr/bin/python3
"""Independent reference for xai's noisy linear imputation without noise: the sparse system exactly as
ROAD's NoisyLinearImputer builds it (Rong et al. 2022, road/imputations.py: eight neighbours, weights
1/6 and 1/12, neighbours outside the image dropped from the diagonal), solved with scipy's spsolve.

    imputation_reference.py DIR   reads DIR/view.npy (H x W x C) and DIR/hidden.npy (H x W, 1 = hidden),
                                  writes DIR/imputed.npy (H x W x C)
"""
import os
import sys

import numpy as np
from scipy.sparse import lil_matrix
from scipy.sparse.linalg import spsolve

NEIGHBOURS = [((1, 1), 1 / 12), ((0, 1), 1 / 6), ((-1, 1), 1 / 12), ((1, -1), 1 / 12), ((0, -1), 1 / 6),
              ((-1, -1), 1 / 12), ((1, 0), 1 / 6), ((-1, 0), 1 / 6)]

directory = sys.argv[1]
view = np.load(os.path.join(directory, "view.npy")).astype(np.float64)
hidden = np.load(os.path.join(directory, "hidden.npy")) > 0.5
rows, cols, channels = view.shape
unknown = [(y, x) for y in range(rows) for x in range(cols) if hidden[y, x]]
index = {p: i for i, p in enumerate(unknown)}
A = lil_matrix((len(unknown), len(unknown)))
b = np.zeros((len(unknown), channels))
for i, (y, x) in enumerate(unknown):
    total = 1.0
    for (dy, dx), w in NEIGHBOURS:
        ny, nx = y + dy, x + dx
        if not (0 <= ny < rows and 0 <= nx < cols):
            total -= w
            continue
        if hidden[ny, nx]:
            A[i, index[(ny, nx)]] = w
        else:
            b[i, :] -= w * view[ny, nx, :]
    A[i, i] = -total
solution = spsolve(A.tocsc(), b)
imputed = view.copy()
for i, (y, x) in enumerate(unknown):
    imputed[y, x, :] = solution[i]
np.save(os.path.join(directory, "imputed.npy"), imputed.astype(np.float32))
