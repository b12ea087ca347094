// DICOM input (CT, MR, X-ray, mammography, ultrasound) read with DCMTK: the pixel data of one frame
// through the Modality LUT (Rescale Slope/Intercept: Hounsfield units for CT) and a window (VOI LUT
// function) into [0, 1], as the model is shown it. Nothing that identifies the patient is ever read
// into the report: only the fields of DicomInfo.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace xai {

// How stored values become the image's [0, 1] range.
struct DicomWindow {
  enum class Kind {
    tags,        // the file's first Window Center/Width (the default; the value range when it has none)
    given,       // --dicom-window C,W (or a named preset)
    minmax,      // the frame's value range
    percentile,  // the P-th to (100−P)-th percentile of the frame: robust to a few extreme pixels
  };
  Kind kind = Kind::tags;
  double center = 0, width = 0;  // Kind::given
  double percentile = 0;         // Kind::percentile, in (0, 50)
  std::string preset;            // "brain", "lung", "bone", "soft-tissue" (Kind::given), for the report
};

// "tags", "minmax", "percentile:P", "C,W", or a CT preset (brain 40,80; lung −600,1500; bone 400,1800;
// soft-tissue 50,400). Throws usage_error.
DicomWindow parse_window(const std::string& text);

struct DicomReading {
  DicomWindow window;
  std::string window_from = "default";  // "--dicom-window", "card" (the model card's window) or "default" (tags)
  int frame = 0;                        // 1-based; 0: the middle frame of a multi-frame file
  // --frames all: every frame is an input of its own (expand_frames sets `frame` for each). A multi-frame
  // file read with frame 0 here is one whose frames could not be counted: an error, not the middle frame.
  bool all_frames = false;
};

// What the report says about a DICOM input: how its pixels became the model's input.
struct DicomInfo {
  std::string modality;              // "CT", "MR", "CR", "DX", "MG", "US", ... ("" when absent)
  int rows = 0, columns = 0;
  std::string photometric;           // as stored (MONOCHROME1/2, RGB, YBR_FULL, ...)
  int bits_allocated = 0, bits_stored = 0;
  bool is_signed = false;
  std::string transfer_syntax;       // its name, e.g. "RLE Lossless"
  int frames = 1, frame = 1;         // 1-based
  double rescale_slope = 1, rescale_intercept = 0;
  std::string window_source;         // "tags", "--dicom-window", "card", "preset brain (--dicom-window)", "minmax", ...
  std::string voi_function = "LINEAR";
  double window_center = 0, window_width = 0;
  bool inverted = false;             // MONOCHROME1: shown as MONOCHROME2
};

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
