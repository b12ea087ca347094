#!/usr/bin/python3
"""Independent reference for xai's DICOM reading, with Debian's pydicom.

    dicom_reference.py make DIR     writes test files into DIR (pydicom's writer): a CT with Rescale
                                    Slope/Intercept, two windows and identifying attributes, a MONOCHROME1
                                    X-ray (12 of 16 bits), an MR with a SIGMOID VOI LUT function, an 8-bit
                                    3-frame file, the CT without extension, a non-DICOM file named .dcm
    dicom_reference.py expect DIR   reads DIR/cases.json ([{"file", "window", "frame", "out"}]) and writes
                                    each case's expected image (H x W [x 3] float32 in [0, 1]) to "out"

Expected images: pixel_array (frame N-1), then for monochrome apply_modality_lut and apply_voi_lut
(pydicom's windowing; a given window "C,W" replaces the file's; "minmax"/"percentile:P" map the
P-th..(100-P)-th percentile onto [0, 1]); the output scaled from pydicom's output range
[y_min, y_max] to [0, 1]; MONOCHROME1 inverted. Colour: RGB as stored / (2^bits - 1), YBR converted
with pydicom's convert_color_space. The file's first window is used, as xai does.
"""
import json
import os
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi_lut, convert_color_space
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

IDENTIFYING = {"PatientName": "DOE^JANE", "PatientID": "PID-12345", "PatientBirthDate": "19700101",
               "AccessionNumber": "ACC-777", "InstitutionName": "Sunnybrook Test Hospital",
               "StudyDate": "20260101", "ReferringPhysicianName": "WHO^DR"}


def new_dataset(path, modality, rows, cols, bits_allocated, bits_stored, signed, photometric, pixels, frames=1):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(path, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    for key, value in IDENTIFYING.items():
        setattr(ds, key, value)
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits_allocated, bits_stored, bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = pixels.tobytes()
    return ds


def make(directory):
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:48, 0:64]
    # CT: stored values v, HU = 0.5 v - 1024; a disc of +60 HU in -900..+1000 HU tissue.
    hu = -900 + 1900 * (x / 63.0) + 60 * ((x - 30) ** 2 + (y - 24) ** 2 < 100)
    stored = np.round((hu + 1024) / 0.5).astype(np.int16)
    ct = new_dataset("ct.dcm", "CT", 48, 64, 16, 16, True, "MONOCHROME2", stored)
    ct.RescaleSlope, ct.RescaleIntercept = "0.5", "-1024"
    ct.WindowCenter, ct.WindowWidth = ["40", "400"], ["80", "2000"]
    ct.save_as(os.path.join(directory, "ct.dcm"), write_like_original=False)
    ct.save_as(os.path.join(directory, "IM0001"), write_like_original=False)  # no extension, as PACS exports
    # X-ray: MONOCHROME1 (high values dark), 12 bits stored in 16.
    xr = (rng.integers(0, 4096, size=(40, 50))).astype(np.uint16)
    xray = new_dataset("xray.dcm", "CR", 40, 50, 16, 12, False, "MONOCHROME1", xr)
    xray.WindowCenter, xray.WindowWidth = "2048", "3000"
    xray.save_as(os.path.join(directory, "xray.dcm"), write_like_original=False)
    # MR with a SIGMOID VOI LUT function.
    mr = (200 + 50 * np.sin(x / 5.0) * np.cos(y / 7.0) + rng.normal(0, 5, size=(48, 64))).astype(np.uint16)
    sig = new_dataset("sigmoid.dcm", "MR", 48, 64, 16, 16, False, "MONOCHROME2", mr)
    sig.WindowCenter, sig.WindowWidth, sig.VOILUTFunction = "200", "100", "SIGMOID"
    sig.save_as(os.path.join(directory, "sigmoid.dcm"), write_like_original=False)
    # Three 8-bit frames that differ, no window: the value range is used.
    frames = np.stack([(rng.integers(0, 256, size=(32, 40)) // (k + 1)).astype(np.uint8) for k in range(3)])
    multi = new_dataset("multi.dcm", "US", 32, 40, 8, 8, False, "MONOCHROME2", frames, frames=3)
    multi.save_as(os.path.join(directory, "multi.dcm"), write_like_original=False)
    with open(os.path.join(directory, "notdicom.dcm"), "wb") as f:
        f.write(b"this is a text file with a .dcm name\n" * 10)


PRESETS = {"brain": "40,80", "lung": "-600,1500", "bone": "400,1800", "soft-tissue": "50,400"}


def expected(path, window, frame):
    window = PRESETS.get(window, window)
    ds = pydicom.dcmread(path)
    arr = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        arr = arr[(frame or (frames + 1) // 2) - 1]
    photometric = ds.PhotometricInterpretation
    full = 2 ** int(ds.BitsStored) - 1
    if photometric in ("RGB", "YBR_FULL", "YBR_FULL_422"):
        if photometric != "RGB":
            arr = convert_color_space(arr, photometric, "RGB")
        return np.clip(arr.astype(np.float64) / full, 0, 1)[..., ::-1]  # BGR, as xai stores colour
    values = apply_modality_lut(arr, ds).astype(np.float64)
    if window in ("minmax",) or (window.startswith("percentile:")) or (
            window == "tags" and "WindowCenter" not in ds):
        p = 0.0 if not window.startswith("percentile:") else float(window.split(":")[1])
        lo, hi = np.percentile(values, [p, 100 - p])
        y = np.clip((values - lo) / (hi - lo), 0, 1)
    else:
        if window != "tags":
            center, width = (float(v) for v in window.split(","))
            ds.WindowCenter, ds.WindowWidth = str(center), str(width)
            if "VOILUTFunction" in ds:
                del ds.VOILUTFunction
        y = apply_voi_lut(values, ds, index=0)
        bits = int(ds.BitsStored)
        y_min, y_max = (0, 2 ** bits - 1) if ds.PixelRepresentation == 0 else (-2 ** (bits - 1), 2 ** (bits - 1) - 1)
        if "RescaleSlope" in ds and "RescaleIntercept" in ds:
            y_min = y_min * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
            y_max = y_max * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        y = (y - y_min) / (y_max - y_min)
    if photometric == "MONOCHROME1":
        y = 1 - y
    return y


def main():
    mode, directory = sys.argv[1], sys.argv[2]
    if mode == "make":
        make(directory)
        return
    with open(os.path.join(directory, "cases.json")) as f:
        cases = json.load(f)
    for case in cases:
        image = expected(case["file"], case.get("window", "tags"), case.get("frame", 0))
        np.save(case["out"], image.astype(np.float32))


if __name__ == "__main__":
    main()
