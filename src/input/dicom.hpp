// DICOM input (CT, MR, X-ray, mammography, ultrasound) read with DCMTK: the pixel data of one frame
// through the Modality LUT (Rescale Slope/Intercept: Hounsfield units for CT) and a window (VOI LUT
// function) into [0, 1], as the model is shown it. Nothing that identifies the patient is ever read
// into the report: only the fields of DicomInfo.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "xai/image.hpp"
#include "xai/model_card.hpp"

namespace xai {

// Number of Frames of a DICOM file, from its header only (pixel data is not read): 1 when the file has
// no such attribute; 0 when it is not readable DICOM or declares more frames than its pixel data can
// hold (reading it then fails with its own one-line error).
int dicom_frame_count(const std::string& path);

// The output stem's suffix of one frame of a multi-frame file: ".f001" (wider past 999 frames).
std::string frame_suffix(int frame, int frames);

// Whether the bytes are DICOM: the "DICM" marker at byte 128, or (files without the preamble) a
// .dcm/.dicom name.
bool looks_like_dicom(const std::string& bytes, const std::string& name);

}  // namespace xai
