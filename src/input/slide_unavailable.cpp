// A build without OpenSlide (-DXAI_WITH_SLIDES=OFF, e.g. the GPU bundle): `xai slide` refuses the file in one
// line; everything else reads as usual.
#include "xai/error.hpp"
#include "input/slide.hpp"

namespace xai {

struct Slide::Impl {
  SlideInfo info;
};

Slide::Slide(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Slide::Slide(Slide&&) noexcept = default;
Slide& Slide::operator=(Slide&&) noexcept = default;
Slide::~Slide() = default;

Slide Slide::open(const std::string& path) {
  throw input_error(path + ": whole-slide images need OpenSlide, and this xai was built without it (-DXAI_WITH_SLIDES=OFF)");
}

const SlideInfo& Slide::info() const { return impl_->info; }

cv::Mat Slide::read_region(int64_t, int64_t, int, int, int) const {
  throw input_error(impl_->info.path + ": this xai was built without OpenSlide (-DXAI_WITH_SLIDES=OFF)");
}

}  // namespace xai
