// Which layers a CAM method explains when none is given (Model::default_layer), the stages of
// `--layers auto-all` (Model::stage_layers), and which layers are a transformer's patch embedding:
// decided from one dry run's LayerInfo (Model::layers), including each output's feature layout.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "model/layer_capture.hpp"
#include "model/torch_model.hpp"
#include "xai/error.hpp"
#include "xai/model.hpp"

namespace xai {

namespace {

bool is_norm(const LayerInfo& info) { return info.type.find("Norm") != std::string::npos; }

// ViT: the first norm of the last encoder block, i.e. of the last module that holds two or more norms
// with token outputs (ln_1 before attention, ln_2 before the MLP). The class token reads the patch
// tokens only through attention: after the last block's attention, the patch tokens no longer reach
// the score and their gradient is zero (pytorch-grad-cam's advice: blocks[-1].norm1).
const LayerInfo* last_block_first_norm(const std::vector<LayerInfo>& all) {
  std::map<std::string, std::vector<const LayerInfo*>> norms_of_parent;
  for (const auto& info : all)
    if (info.calls > 0 && info.layout.kind == FeatureLayout::Kind::tokens && info.spatial() && is_norm(info)) {
      const size_t dot = info.path.rfind('.');
      norms_of_parent[dot == std::string::npos ? "" : info.path.substr(0, dot)].push_back(&info);
    }
  const LayerInfo* best = nullptr;
  int64_t best_block_end = -1;
  for (const auto& [parent, norms] : norms_of_parent) {
    if (norms.size() < 2) continue;
    const auto first = std::min_element(norms.begin(), norms.end(),
                                        [](const auto* a, const auto* b) { return a->completed_at < b->completed_at; });
    const auto last = std::max_element(norms.begin(), norms.end(),
                                       [](const auto* a, const auto* b) { return a->completed_at < b->completed_at; });
    if ((*last)->completed_at > best_block_end) best_block_end = (*last)->completed_at, best = *first;
  }
  return best;
}

// Convolutions that finish before the first transformer output: the patch embedding (and its parts).
bool before_first_transformer_output(const std::vector<LayerInfo>& all, const LayerInfo& layer) {
  int64_t first = -1;
  for (const auto& info : all) {
    // Token outputs whose grid is unknown (the card's is wrong) still mark a transformer.
    const bool transformer = info.layout.is_transformer() || info.output_shape.size() == 3;
    if (info.calls > 0 && transformer && (first < 0 || info.completed_at < first)) first = info.completed_at;
  }
  return first >= 0 && layer.layout.kind == FeatureLayout::Kind::channels_first && layer.completed_at < first;
}

}  // namespace

std::vector<std::string> Model::stage_layers() {
  const std::vector<LayerInfo> all = layers();
  // Spatial containers directly below `parent` ("" = the model itself), in execution order.
  auto children_of = [&](const std::string& parent) {
    std::vector<std::string> found;
    const size_t depth = parent.empty() ? 0 : std::count(parent.begin(), parent.end(), '.') + 1;
    for (const auto& info : all)
      if ((parent.empty() || info.path.rfind(parent + ".", 0) == 0) &&
          static_cast<size_t>(std::count(info.path.begin(), info.path.end(), '.')) == depth && info.has_children &&
          info.spatial() && info.calls > 0)
        found.push_back(info.path);
    return found;
  };
  std::vector<std::string> stages = children_of("");
  while (stages.size() == 1) stages = children_of(stages.front());
  if (stages.empty()) throw layer_error(impl_->path + ": no stage with a spatial output; give " + setting_name("layer"));
  if (stages.size() < 4) {
    // Few coarse stages (Xception's entry, middle and exit flows): show the blocks inside them.
    std::vector<std::string> blocks;
    for (const auto& stage : stages) {
      const std::vector<std::string> inner = children_of(stage);
      if (inner.empty())
        blocks.push_back(stage);
      else
        blocks.insert(blocks.end(), inner.begin(), inner.end());
    }
    stages = blocks;
  }
  // ViT: the last block's output comes after its attention, where the patch tokens no longer reach the
  // class token (a zero map): its first norm stands in for it.
  const LayerInfo* norm = last_block_first_norm(all);
  if (norm && norm->layout.prefix > 0 && norm->path.rfind(stages.back() + ".", 0) == 0) stages.back() = norm->path;
  return stages;
}

std::string Model::default_layer() {
  if (!impl_->card.target_layer.empty()) return impl_->card.target_layer;
  if (!impl_->default_layer.empty()) return impl_->default_layer;
  const std::vector<LayerInfo> all = layers();
  if (all.empty())
    throw layer_error(impl_->path + ": model has no submodules (frozen or optimized for inference?): "
                      "Grad-CAM needs layer access; export without torch.jit.freeze");
  const LayerInfo* best = last_block_first_norm(all);
  const bool channels_last = std::any_of(all.begin(), all.end(), [](const LayerInfo& info) {
    return info.calls > 0 && info.layout.kind == FeatureLayout::Kind::channels_last && info.spatial();
  });
  if (!best && channels_last) {
    // Swin: the last stage's output.
    impl_->default_layer = stage_layers().back();
    return impl_->default_layer;
  }
  if (!best)
    for (const auto& info : all)
      if (info.spatial() && info.calls > 0 && !before_first_transformer_output(all, info) &&
          (!best || info.completed_at > best->completed_at))
        best = &info;
  if (!best) {
    for (const auto& info : all)
      if (!info.layout.problem.empty())
        throw layer_error(impl_->path + ": no layer to explain by default: '" + info.path + "' has " + info.layout.problem);
    throw layer_error(impl_->path + ": no layer with a spatial (N,C,H,W) output or transformer tokens; give " +
                      setting_name("layer"));
  }
  impl_->default_layer = best->path;
  return best->path;
}

bool Model::is_patch_embedding(const std::string& layer) {
  // Only a convolution can be one: other layers are told apart without a dry run.
  bool convolution = false;
  for (const auto& named : impl_->module.named_modules())
    if (named.name == layer) convolution = short_type_name(named.value).find("Conv") != std::string::npos;
  if (!convolution) return false;
  const std::vector<LayerInfo> all = layers();
  for (const auto& info : all)
    if (info.path == layer) return before_first_transformer_output(all, info);
  return false;
}

}  // namespace xai
