// OpenCV 4.6's cv::imdecode prints "imdecode_('...'): can't read data: <exception text>" and an empty
// line to std::cerr whenever a decoder throws (truncated BMP, PNM, PFM, HDR, JPEG 2000...). xai reports
// the same failure itself, as one line naming the file, so the CLI drops exactly those lines from
// std::cerr and passes everything else through unchanged. OpenCV's own log (JPEG 2000 decoder errors)
// is silenced for the same reason.
#pragma once

namespace xai::cli {

// Installs the filter in std::cerr for the life of the process. Thread-safe: lines are assembled
// per thread and written whole.
void filter_decoder_noise();

}  // namespace xai::cli
