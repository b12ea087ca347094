#include "input/jpeg_decoder.hpp"

// jpeglib.h needs size_t and FILE declared first.
#include <cstdio>
#include <csetjmp>
#include <cstring>
#include <jpeglib.h>

namespace xai {
namespace {

struct StrictErrorManager {
  jpeg_error_mgr pub;  // first: libjpeg hands back a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void fail(j_common_ptr cinfo) {
  auto* manager = reinterpret_cast<StrictErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, manager->message);
  std::longjmp(manager->jump, 1);
}

// Level -1 is a warning about corrupt data; higher levels are trace messages, ignored.
void on_message(j_common_ptr cinfo, int level) {
  if (level < 0) fail(cinfo);
}

// The libjpeg part, kept free of C++ objects with destructors so that longjmp skips nothing:
// everything it produces goes into `result`, which lives in the caller.
void run_libjpeg(const std::string& bytes, long long max_pixels, int scale_denominator, JpegDecodeResult& result) {
  jpeg_decompress_struct cinfo;
  StrictErrorManager manager;
  cinfo.err = jpeg_std_error(&manager.pub);
  manager.pub.error_exit = fail;
  manager.pub.emit_message = on_message;
  manager.message[0] = '\0';
  if (setjmp(manager.jump)) {
    jpeg_destroy_decompress(&cinfo);
    result.pixels.release();
    result.error = manager.message;
    return;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  result.width = static_cast<int>(cinfo.image_width);
  result.height = static_cast<int>(cinfo.image_height);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    result.unsupported = true;
    jpeg_destroy_decompress(&cinfo);
    return;
  }
  if (static_cast<unsigned long long>(cinfo.image_width) * cinfo.image_height >
      static_cast<unsigned long long>(max_pixels < 0 ? 0 : max_pixels)) {
    jpeg_destroy_decompress(&cinfo);
    return;
  }
  const bool gray = cinfo.num_components == 1;
  cinfo.out_color_space = gray ? JCS_GRAYSCALE : JCS_EXT_BGR;  // what cv::imdecode asks for too
  cinfo.scale_num = 1;
  cinfo.scale_denom = static_cast<unsigned>(scale_denominator);  // 1, 2, 4 or 8: DCT scaling while decoding
  jpeg_start_decompress(&cinfo);
  result.pixels.create(static_cast<int>(cinfo.output_height), static_cast<int>(cinfo.output_width),
                       gray ? CV_8UC1 : CV_8UC3);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = result.pixels.ptr<unsigned char>(static_cast<int>(cinfo.output_scanline));
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
}

}  // namespace

JpegDecodeResult decode_jpeg_strict(const std::string& bytes, long long max_pixels, int scale_denominator) {
  JpegDecodeResult result;
  run_libjpeg(bytes, max_pixels, scale_denominator, result);
  return result;
}

}  // namespace xai
