#include "xai/evaluate.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "xai/cam.hpp"
#include "xai/error.hpp"
#include "xai/image.hpp"
#include "xai/lime.hpp"
#include "xai/render.hpp"
#include "xai/inputs.hpp"
#include "xai/metrics.hpp"
#include "xai/preprocess.hpp"
#include "xai/target.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

std::string find_mask(const std::string& image_path, const std::string& masks_dir) {
  const fs::path image(image_path);
  const std::string stem = image.stem().string();
  std::vector<fs::path> candidates;
  if (!masks_dir.empty()) {
    candidates = {fs::path(masks_dir) / (stem + ".png"), fs::path(masks_dir) / (stem + ".mask.png")};
  } else {
    candidates = {image.parent_path() / (stem + ".mask.png")};
  }
  std::error_code ec;
  for (const auto& c : candidates)
    if (fs::is_regular_file(c, ec)) return c.string();
  return "";
}

cv::Mat read_mask(const std::string& path, const cv::Size& size) {
  cv::Mat mask = cv::imread(path, cv::IMREAD_GRAYSCALE);
  if (mask.empty()) throw input_error(path + ": cannot read mask");
  if (mask.size() != size)
    throw input_error(path + ": mask is " + std::to_string(mask.cols) + "x" + std::to_string(mask.rows) +
                      ", image is " + std::to_string(size.width) + "x" + std::to_string(size.height));
  return mask;
}

}  // namespace

std::map<std::string, std::string> read_labels_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw usage_error("--labels-csv " + path + ": cannot read");
  std::map<std::string, std::string> labels;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t comma = line.find(',');
    if (comma == std::string::npos) continue;
    std::string name = line.substr(0, comma), label = line.substr(comma + 1);
    if (name == "name" || name == "filename" || name == "image") continue;  // header
    labels[fs::path(name).stem().string()] = label;
  }
  return labels;
}

std::optional<double> roc_auc(const std::vector<double>& scores, const std::vector<bool>& positive) {
  double positives = 0, negatives = 0, wins = 0;
  for (size_t i = 0; i < scores.size(); ++i) (positive[i] ? positives : negatives) += 1;
  if (positives == 0 || negatives == 0) return std::nullopt;  // undefined, and 0 would read as "always wrong"
  for (size_t i = 0; i < scores.size(); ++i) {
    if (!positive[i]) continue;
    for (size_t j = 0; j < scores.size(); ++j) {
      if (positive[j]) continue;
      wins += scores[i] > scores[j] ? 1.0 : scores[i] == scores[j] ? 0.5 : 0.0;
    }
  }
  return wins / (positives * negatives);
}

EvalResult evaluate_localisation(Model& model, const std::vector<std::string>& inputs, const EvalOptions& options) {
  const std::vector<std::string>& labels = model.labels();
  int positive_class = labels.size() == 2 ? 1 : -1;
  if (!options.positive_label.empty()) positive_class = parse_class(options.positive_label, labels);
  if (positive_class < 0) throw usage_error("--positive-class is required for a model with more than 2 classes");
  const bool lime = options.method == "lime";
  // LIME has no layers: one row, labelled "superpixels".
  const std::vector<std::string> layers = lime ? std::vector<std::string>{"superpixels"}
                                          : options.layers.empty() ? std::vector<std::string>{model.default_layer()}
                                                                   : options.layers;
  const std::map<std::string, std::string> truth_by_name =
      options.labels_csv.empty() ? std::map<std::string, std::string>{} : read_labels_csv(options.labels_csv);

  std::vector<std::string> files;
  for (const auto& input : discover_inputs(inputs)) files.push_back(input.path);
  if (files.empty()) throw usage_error("no images found in the given inputs");

  struct Sums {
    int count = 0;
    double pointing = 0, energy = 0, iou = 0;
  };
  std::vector<Sums> sums(layers.size());
  std::vector<double> scores;
  std::vector<bool> truths;
  EvalResult result;
  json per_image = json::array();
  CamRequest request;
  request.method = options.method;
  request.layers = layers;
  request.target.kind = TargetSpec::Kind::given;
  request.target.class_index = positive_class;

  for (size_t start = 0; start < files.size(); start += options.batch_size) {
    const size_t end = std::min(files.size(), start + static_cast<size_t>(options.batch_size));
    std::vector<Image> images;
    std::vector<InputBlob> blobs;
    for (size_t i = start; i < end; ++i) {
      images.push_back(load_image(files[i]));
      blobs.push_back(preprocess(images.back(), model.card()));
    }
    // Per image: the prediction and one map per layer at the image's resolution.
    std::vector<Prediction> predictions;
    std::vector<std::vector<cv::Mat>> full_maps;
    if (lime) {
      LimeOptions lime_options = options.lime;
      lime_options.target = request.target;
      for (const auto& image : images) {
        const LimeExplanation e = explain_lime(model, image, lime_options);
        predictions.push_back(e.prediction);
        // Positive weights only: the evidence *for* the class, comparable with a CAM.
        cv::Mat weights = segment_value_map(segments_at_size(e.segments, image.pixels.size()), e.classes.front().weights);
        full_maps.push_back({cv::max(weights, 0.0)});
      }
    } else {
      for (const auto& e : explain_cam(model, blobs, request)) {
        predictions.push_back(e.prediction);
        std::vector<cv::Mat> per_layer;
        for (const auto& m : e.targets[0].maps) per_layer.push_back(m.map);
        full_maps.push_back(per_layer);
      }
    }
    for (size_t b = 0; b < images.size(); ++b) {
      const std::string& path = files[start + b];
      const std::string stem = fs::path(path).stem().string();
      const std::string mask_path = find_mask(path, options.masks_dir);
      cv::Mat mask;
      if (!mask_path.empty()) mask = read_mask(mask_path, images[b].pixels.size());
      bool truth;
      if (!truth_by_name.empty()) {
        auto it = truth_by_name.find(stem);
        if (it == truth_by_name.end()) throw usage_error(options.labels_csv + ": no label for " + stem);
        truth = parse_class(it->second, labels) == positive_class;
      } else {
        truth = !mask.empty() && cv::countNonZero(mask) > 0;
      }
      const Prediction& prediction = predictions[b];
      const bool correct = (prediction.predicted == positive_class) == truth;
      result.images += 1;
      result.positives += truth ? 1 : 0;
      result.correct += correct ? 1 : 0;
      scores.push_back(prediction.probabilities[positive_class]);
      truths.push_back(truth);

      json entry = {{"path", path},
                    {"truth", truth ? labels[positive_class] : "other"},
                    {"predicted", labels[prediction.predicted]},
                    {"probability", prediction.probabilities[positive_class]},
                    {"mask", mask_path.empty() ? json(nullptr) : json(mask_path)}};
      const bool evaluated = truth && correct && !mask.empty() && cv::countNonZero(mask) > 0;
      if (evaluated) {
        json agreement = json::array();
        for (size_t l = 0; l < layers.size(); ++l) {
          const cv::Mat full = upsample_map(full_maps[b][l], mask.cols, mask.rows);
          const MaskAgreement a = mask_agreement(full, mask, options.top_fraction);
          sums[l].count += 1;
          sums[l].pointing += a.pointing_hit ? 1 : 0;
          sums[l].energy += a.energy_inside;
          sums[l].iou += a.iou_top;
          agreement.push_back({{"method", options.method}, {"layer", layers[l]}, {"pointing_hit", a.pointing_hit},
                               {"energy_inside", a.energy_inside}, {"iou_top", a.iou_top},
                               {"map_constant", a.map_constant}});
        }
        entry["agreement"] = agreement;
      }
      per_image.push_back(entry);
    }
  }

  result.accuracy = result.images ? static_cast<double>(result.correct) / result.images : 0.0;
  result.roc_auc = roc_auc(scores, truths);
  json rows = json::array();
  for (size_t l = 0; l < layers.size(); ++l) {
    EvalSummaryRow row{options.method, layers[l], sums[l].count, 0, 0, 0};
    if (row.count > 0) {
      row.pointing_game = sums[l].pointing / row.count;
      row.energy_inside = sums[l].energy / row.count;
      row.iou_top = sums[l].iou / row.count;
    }
    result.rows.push_back(row);
    rows.push_back({{"method", row.method}, {"layer", row.layer}, {"count", row.count},
                    {"pointing_game", row.pointing_game}, {"energy_inside", row.energy_inside},
                    {"iou_top", row.iou_top}, {"top_fraction", options.top_fraction}});
  }
  result.report = {{"model", model.path()},
                   {"model_sha256", model.sha256()},
                   {"positive_class", labels[positive_class]},
                   {"images", result.images},
                   {"positives", result.positives},
                   {"accuracy", result.accuracy},
                   {"roc_auc", result.roc_auc ? json(*result.roc_auc) : json(nullptr)},
                   {"localisation", rows},
                   {"per_image", per_image}};
  return result;
}

}  // namespace xai
