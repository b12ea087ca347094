#include "model/feature_map.hpp"

namespace xai {

torch::Tensor to_feature_map(const torch::Tensor& output, const FeatureLayout& layout) {
  switch (layout.kind) {
    case FeatureLayout::Kind::channels_last: return output.permute({0, 3, 1, 2}).contiguous();
    case FeatureLayout::Kind::tokens:
      return output.narrow(1, layout.prefix, layout.height * layout.width)
          .reshape({output.size(0), layout.height, layout.width, layout.channels})
          .permute({0, 3, 1, 2})
          .contiguous();
    default: return output;
  }
}

torch::Tensor from_feature_map(const torch::Tensor& maps, const FeatureLayout& layout, const torch::Tensor& output,
                               int64_t i) {
  switch (layout.kind) {
    case FeatureLayout::Kind::channels_last: return maps.permute({0, 2, 3, 1}).contiguous();
    case FeatureLayout::Kind::tokens: {
      const int64_t count = maps.size(0);
      const torch::Tensor grid = maps.permute({0, 2, 3, 1}).reshape({count, layout.height * layout.width, layout.channels});
      const torch::Tensor prefix =
          output[i].narrow(0, 0, layout.prefix).unsqueeze(0).expand({count, layout.prefix, layout.channels});
      return torch::cat({prefix.to(grid.scalar_type()), grid}, 1).contiguous();
    }
    default: return maps;
  }
}

}  // namespace xai
