#!/usr/bin/python3
"""Independent reference for xai's structural_similarity: scikit-image's structural_similarity with
the Gaussian window of Wang et al. (sigma 1.5), population covariances and data range 1.

    ssim_reference.py DIR   reads DIR/a_K.npy and DIR/b_K.npy (K = 0, 1, ...), prints one SSIM per line
"""
import os
import sys

import numpy as np
from skimage.metrics import structural_similarity

directory = sys.argv[1]
k = 0
while os.path.exists(os.path.join(directory, f"a_{k}.npy")):
    a = np.load(os.path.join(directory, f"a_{k}.npy")).astype(np.float64)
    b = np.load(os.path.join(directory, f"b_{k}.npy")).astype(np.float64)
    print(repr(structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False)))
    k += 1
