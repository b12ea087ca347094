#include "pipelines/sanity.hpp"

#include "output/print_figure.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "core/image_geometry.hpp"
#include "xai/atomic_file.hpp"
#include "xai/error.hpp"
#include "xai/explain.hpp"
#include "output/explanation_files.hpp"
#include "output/gallery.hpp"
#include "xai/inputs.hpp"
#include "analysis/metrics.hpp"
#include "output/render.hpp"
#include "output/report.hpp"
#include "methods/target.hpp"
#include "core/text.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

constexpr int kTileSize = 128;

// One input through the cascade. The trained model's maps are kept at the model's view to measure
// every step against; the grid keeps small tiles only, so memory grows slowly with the images.
struct ImageRecord {
  InputFile file;
  int target = -1;                               // the class every map explains, from the trained model
  std::vector<double> probability;               // of the target, per step (0 = trained)
  std::vector<cv::Mat> trained;                  // per map, CV_32FC1 at the view's size
  std::vector<std::vector<MapSimilarity>> similarity;  // [step − 1][map]
  std::vector<std::vector<cv::Mat>> tiles;       // [step][map], with the view first: [0][0]
  std::vector<ColourScale> scales;               // of every map drawn, for the grid's colour bar
};

struct MapName {
  std::string method;
  std::string layer;
  std::string text() const { return layer.empty() ? method : method + " " + layer; }
};

cv::Mat view_display(const cv::Mat& view) {
  Image image;
  if (view.channels() == 1)
    image.pixels = view;
  else
    cv::cvtColor(view, image.pixels, cv::COLOR_RGB2BGR);
  return to_display_bgr(image);
}

class SanityRun {
 public:
  SanityRun(Model& model, const SanityOptions& options) : model_(model), options_(options) {}

  SanityResult run(const std::vector<std::string>& inputs) {
    InputSelection selection;
    if (!options_.output_dir.empty()) selection.output_dirs = {options_.output_dir};
    DiscoveryCounts counts;
    for (auto& file : discover_inputs(inputs, selection, &counts)) {
      ImageRecord record;
      record.file = std::move(file);
      images_.push_back(std::move(record));
    }
    if (images_.empty()) throw usage_error("no images found in the given inputs");
    result_.skipped_outputs = counts.skipped_outputs;
    result_.skipped_masks = counts.skipped_masks;
    result_.images = static_cast<int>(images_.size());

    plan_ = plan_explanations(model_, options_.explain);
    result_.cascade = randomisation_cascade(model_);
    const int steps = static_cast<int>(result_.cascade.size());
    result_.flag_step = std::clamp(options_.flag_after, 1, steps) - 1;
    std::error_code ec;
    fs::create_directories(options_.output_dir, ec);
    if (ec || !fs::is_directory(options_.output_dir))
      throw output_error(options_.output_dir + ": cannot create output directory");

    std::vector<size_t> all(images_.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    each_batch(model_, plan_, all, 0);

    std::vector<std::string> randomised_modules;
    for (int step = 1; step <= steps; ++step) {
      const RandomisationStage& stage = result_.cascade[step - 1];
      randomised_modules.insert(randomised_modules.end(), stage.modules.begin(), stage.modules.end());
      Model randomised = randomised_copy(model_, randomised_modules, options_.seed);
      // The same class as the trained model explained, whatever the random model now predicts.
      std::map<int, std::vector<size_t>> by_class;
      for (size_t i = 0; i < images_.size(); ++i) by_class[images_[i].target].push_back(i);
      for (const auto& [target, members] : by_class) {
        ExplainOptions fixed_target = options_.explain;
        fixed_target.cam.target = TargetSpec{TargetSpec::Kind::given, target, 1};
        fixed_target.cam.layers = plan_.layers;
        const ExplainPlan plan = plan_explanations(randomised, fixed_target);
        each_batch(randomised, plan, members, step);
      }
    }
    summarise();
    write_outputs();
    return std::move(result_);
  }

 private:
  void each_batch(Model& model, const ExplainPlan& plan, const std::vector<size_t>& members, int step) {
    const size_t batch = static_cast<size_t>(std::max(1, options_.batch_size));
    for (size_t start = 0; start < members.size(); start += batch) {
      const size_t end = std::min(members.size(), start + batch);
      std::vector<PreparedImage> prepared;
      for (size_t m = start; m < end; ++m)
        prepared.push_back(prepare_image(images_[members[m]].file.path, plan.card, plan.options.limits));
      std::vector<const PreparedImage*> pointers;
      for (const auto& p : prepared) pointers.push_back(&p);
      const std::vector<ComputedExplanation> computed = compute_explanations(model, plan, pointers);
      for (size_t b = 0; b < prepared.size(); ++b) record(images_[members[start + b]], prepared[b], computed[b], plan, step);
    }
  }

  void record(ImageRecord& image, const PreparedImage& prepared, const ComputedExplanation& computed,
              const ExplainPlan& plan, int step) {
    const cv::Mat display = view_display(prepared.view);
    std::vector<cv::Mat> maps, tiles;
    std::vector<MapName> names;
    for (const MethodResult& result : computed.results)
      for (DenseMap& dense : dense_maps(result, prepared.view.size())) {
        if (image.target < 0) image.target = dense.class_index;
        names.push_back({result.method, dense.layer});
        if (options_.grids) {
          tiles.push_back(shrink_to_fit(render_map(overlay_background(display, plan.options.background), dense,
                                                   plan.options.colormap, plan.options.alpha, plan.options.signed_colormap),
                                        kTileSize, cv::INTER_AREA));
          image.scales.push_back(colour_scale_of(dense, plan.options));
        }
        maps.push_back(std::move(dense.values));
      }
    if (step == 0) {
      for (const auto& warning : computed.warnings) result_.warnings.push_back(image.file.path + ": " + warning);
      if (names_.empty()) names_ = names;
      image.trained = maps;
      image.tiles.push_back({shrink_to_fit(display, kTileSize, cv::INTER_AREA)});
    } else {
      std::vector<MapSimilarity> similarity;
      for (size_t k = 0; k < maps.size() && k < image.trained.size(); ++k)
        similarity.push_back(map_similarity(image.trained[k], maps[k], options_.top_fraction, /*absolute=*/true));
      image.similarity.push_back(std::move(similarity));
    }
    if (names.size() != names_.size())
      throw model_error(model_.path() + ": " + image.file.path + ": the randomised model gave " +
                        std::to_string(names.size()) + " maps where the trained one gave " +
                        std::to_string(names_.size()));
    image.tiles.push_back(std::move(tiles));
    image.probability.push_back(computed.results.front().prediction.probabilities.at(image.target));
  }

  void summarise() {
    const size_t steps = result_.cascade.size();
    for (size_t k = 0; k < names_.size(); ++k) {
      SanityRow row;
      row.method = names_[k].method;
      row.layer = names_[k].layer;
      for (size_t s = 0; s < steps; ++s) {
        double rho = 0, ssim = 0, iou = 0;
        for (const auto& image : images_) {
          rho += image.similarity[s][k].spearman;
          ssim += image.similarity[s][k].ssim;
          iou += image.similarity[s][k].iou_top;
        }
        const double n = static_cast<double>(images_.size());
        row.spearman.push_back(rho / n);
        row.ssim.push_back(ssim / n);
        row.iou_top.push_back(iou / n);
      }
      row.similarity_at_flag_step = row.spearman[result_.flag_step];
      row.flagged = row.similarity_at_flag_step > options_.max_similarity;
      result_.rows.push_back(std::move(row));
    }
  }

  std::string grid_path(const ImageRecord& image) const {
    const fs::path relative(image.file.relative);
    return (fs::path(options_.output_dir) / relative.parent_path() / (input_stem(relative) + ".sanity." + to_string(options_.explain.figure_format))).string();
  }

  void write_grid(const ImageRecord& image, const std::string& path) const {
    std::vector<cv::Mat> tiles;
    std::vector<std::string> captions;
    for (size_t k = 0; k < names_.size(); ++k) {
      tiles.push_back(image.tiles[0][0]);
      captions.push_back(names_[k].text() + "\nclass " + plan_.labels.at(image.target));
      for (size_t s = 0; s + 1 < image.tiles.size(); ++s) {
        tiles.push_back(image.tiles[s + 1][k]);
        if (s == 0)
          captions.push_back("trained\np " + fixed_decimals(image.probability[0]));
        else
          captions.push_back("random " + result_.cascade[0].name + (s > 1 ? ".." + result_.cascade[s - 1].name : "") + "\nrho " +
                             fixed_decimals(image.similarity[s - 1][k].spearman) + " p " + fixed_decimals(image.probability[s]));
      }
    }
    const int columns = static_cast<int>(image.tiles.size());  // the image, trained, each step
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    const std::optional<ColourScale> scale = common_colour_scale(image.scales);
    const std::vector<std::string> header = {
        "sanity: " + image.file.path + "   explained: " + plan_.labels.at(image.target),
        "each row: a map of the trained model, then with layers randomised from the top" +
            std::string(scale ? "" : "   (maps on their own scales)"),
        "tiles: what the model sees (" + std::to_string(plan_.card.input_width) + "x" +
            std::to_string(plan_.card.input_height) + " px after its resizing), each map at that size"};
    write_file_atomic(path, encode_grid(tiles, captions, columns, kTileSize, header, scale ? &*scale : nullptr,
                                        options_.explain.figure_format, options_.explain.figure_dpi, path));
  }

  void write_outputs() {
    json cascade = json::array();
    for (size_t s = 0; s < result_.cascade.size(); ++s)
      cascade.push_back({{"step", s + 1}, {"stage", result_.cascade[s].name}, {"modules", result_.cascade[s].modules}});
    json rows = json::array();
    for (const auto& row : result_.rows)
      rows.push_back({{"method", row.method},
                      {"layer", row.layer.empty() ? json(nullptr) : json(row.layer)},
                      {"spearman", row.spearman},
                      {"ssim", row.ssim},
                      {"iou_top", row.iou_top},
                      {"similarity_at_flag_step", row.similarity_at_flag_step},
                      {"flagged", row.flagged}});
    json per_image = json::array();
    for (const auto& image : images_) {
      json maps = json::array();
      for (size_t k = 0; k < names_.size(); ++k) {
        json rho = json::array(), ssim = json::array(), iou = json::array();
        for (const auto& step : image.similarity) {
          rho.push_back(step[k].spearman);
          ssim.push_back(step[k].ssim);
          iou.push_back(step[k].iou_top);
        }
        maps.push_back({{"method", names_[k].method},
                        {"layer", names_[k].layer.empty() ? json(nullptr) : json(names_[k].layer)},
                        {"spearman", rho},
                        {"ssim", ssim},
                        {"iou_top", iou}});
      }
      json entry = {{"path", image.file.path},
                    {"class", plan_.labels.at(image.target)},
                    {"probability", image.probability},
                    {"maps", maps}};
      if (options_.grids) {
        const std::string path = grid_path(image);
        write_grid(image, path);
        result_.grids.push_back(path);
        entry["grid"] = fs::relative(path, options_.output_dir).generic_string();
      }
      per_image.push_back(std::move(entry));
    }
    result_.report = {{"schema_version", kReportSchemaVersion},
                      {"xai_version", xai_version()},
                      {"model", model_.path()},
                      {"model_sha256", model_.sha256()},
                      {"inference", plan_.model["inference"]},
                      {"methods", plan_.options.methods},
                      {"parameters", plan_.parameters},
                      {"layers", plan_.layers},
                      {"target", target_parameters(options_.explain.cam.target)},
                      {"randomisation", {{"seed", options_.seed},
                                         {"rule", "PyTorch reset_parameters: weights and biases U(-1/sqrt(fan_in), "
                                                  "1/sqrt(fan_in)), norm layers identity, other parameters "
                                                  "N(mean, std) of their trained values"}}},
                      {"similarity", {{"spearman", "of absolute values"},
                                      {"ssim", "of absolute values scaled to [0,1]"},
                                      {"top_fraction", options_.top_fraction},
                                      {"map_size", "at most 128 px a side"}}},
                      {"max_similarity", options_.max_similarity},
                      {"flag_after", result_.flag_step + 1},
                      {"flag_stage", result_.cascade[result_.flag_step].name},
                      {"batch_size", options_.batch_size},
                      {"images", result_.images},
                      {"skipped_outputs", result_.skipped_outputs},
                      {"skipped_masks", result_.skipped_masks},
                      {"cascade", cascade},
                      {"rows", rows},
                      {"flagged", std::count_if(result_.rows.begin(), result_.rows.end(),
                                                [](const SanityRow& r) { return r.flagged; })},
                      {"warnings", result_.warnings},
                      {"per_image", per_image}};
    std::ostringstream csv;
    csv << "method,layer,step,stage,spearman,ssim,iou_top,flagged\n";
    for (const auto& row : result_.rows)
      for (size_t s = 0; s < result_.cascade.size(); ++s)
        csv << csv_field(row.method) << "," << csv_field(row.layer) << "," << s + 1 << ","
            << csv_field(result_.cascade[s].name) << "," << row.spearman[s] << "," << row.ssim[s] << ","
            << row.iou_top[s] << "," << (row.flagged ? 1 : 0) << "\n";
    result_.csv_path = (fs::path(options_.output_dir) / "sanity.csv").string();
    result_.report_path = (fs::path(options_.output_dir) / "sanity.json").string();
    write_file_atomic(result_.csv_path, csv.str());
    write_file_atomic(result_.report_path,
                      result_.report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  }

  Model& model_;
  const SanityOptions& options_;
  ExplainPlan plan_;
  std::vector<ImageRecord> images_;
  std::vector<MapName> names_;  // the maps of every image, in plan order
  SanityResult result_;
};

}  // namespace

SanityResult check_sanity(Model& model, const std::vector<std::string>& inputs, const SanityOptions& options) {
  if (options.output_dir.empty()) throw usage_error("sanity needs an output folder (-o)");
  return SanityRun(model, options).run(inputs);
}

}  // namespace xai
