#include "xai/model_card.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "xai/error.hpp"
#include "core/file_read.hpp"
#include "core/text.hpp"

namespace xai {

namespace fs = std::filesystem;
using nlohmann::json;

std::string to_string(OutputKind kind) { return kind == OutputKind::softmax ? "softmax" : "sigmoid"; }
std::string to_string(ChannelMode mode) { return mode == ChannelMode::rgb ? "rgb" : "gray"; }

std::string to_string(Interpolation interpolation) {
  switch (interpolation) {
    case Interpolation::bilinear: return "bilinear";
    case Interpolation::bicubic: return "bicubic";
    default: return "area";
  }
}

Interpolation parse_interpolation(const std::string& text) {
  for (Interpolation i : {Interpolation::area, Interpolation::bilinear, Interpolation::bicubic})
    if (text == to_string(i)) return i;
  throw usage_error("interpolation '" + text + "' is not one of: area, bilinear, bicubic");
}

std::string resize_spec(const ModelCard& card) {
  return card.resize == ResizeMode::stretch ? "stretch" : "shorter-side:" + std::to_string(card.resized_side());
}

void parse_resize(const std::string& text, ModelCard& card) {
  const std::string prefix = "shorter-side";
  if (text == "stretch") {
    card.resize = ResizeMode::stretch;
    card.resize_to = 0;
    return;
  }
  if (text.rfind(prefix, 0) == 0) {
    const std::string rest = text.substr(prefix.size());
    int size = 0;
    if (!rest.empty()) {
      const std::string digits = rest.substr(1);
      const bool numeric = rest[0] == ':' && !digits.empty() && digits.size() <= 5 &&
                           std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (!numeric || (size = std::stoi(digits)) < 1)
        throw usage_error("resize '" + text + "': expected shorter-side:N with N a positive integer, e.g. shorter-side:256");
    }
    card.resize = ResizeMode::shorter_side;
    card.resize_to = size;
    return;
  }
  throw usage_error("resize '" + text + "' is not one of: stretch, shorter-side, shorter-side:N");
}

int ModelCard::resized_side() const {
  if (resize_to > 0) return resize_to;
  return static_cast<int>(std::lround(std::max(input_height, input_width) * 8.0 / 7.0));
}

OutputKind parse_output_kind(const std::string& text) {
  if (text == "softmax") return OutputKind::softmax;
  if (text == "sigmoid") return OutputKind::sigmoid;
  throw usage_error("output kind '" + text + "' is not one of: softmax, sigmoid");
}

ChannelMode parse_channel_mode(const std::string& text) {
  if (text == "rgb") return ChannelMode::rgb;
  if (text == "gray" || text == "grey") return ChannelMode::gray;
  throw usage_error("channels '" + text + "' is not one of: rgb, gray");
}

void ModelCard::set_channels(ChannelMode mode) {
  channels = mode;
  if (mode == ChannelMode::rgb) {
    mean = {0.485f, 0.456f, 0.406f};
    std = {0.229f, 0.224f, 0.225f};
  } else {
    mean = {0.5f};
    std = {0.5f};
  }
}

std::optional<int> ModelCard::expected_outputs() const {
  if (labels.empty()) return std::nullopt;
  if (output == OutputKind::sigmoid && labels.size() == 2) return 1;  // binary single logit
  return static_cast<int>(labels.size());
}

std::optional<int> ModelCard::output_element_index() const {
  if (output_element.empty() || output_element.size() > 4 ||
      output_element.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  const int index = std::stoi(output_element);
  return index < 1024 ? std::optional<int>(index) : std::nullopt;
}

bool ModelCard::fits_outputs(int outputs) const {
  if (expected_outputs() == outputs) return true;
  return output == OutputKind::sigmoid && labels.size() == 2 && outputs == 2;
}

void ModelCard::validate() const {
  const std::string where = source.empty() ? std::string("model settings") : source;
  if (input_height < 1 || input_width < 1 || input_height > kMaxInputSide || input_width > kMaxInputSide)
    throw model_error(where + ": input_size must be two integers in 1.." + std::to_string(kMaxInputSide));
  const size_t c = static_cast<size_t>(channel_count());
  if (mean.size() != c || std.size() != c)
    throw model_error(where + ": mean and std need " + std::to_string(c) + " value(s) for channels '" +
                      to_string(channels) + "'");
  for (float m : mean)
    if (!std::isfinite(m)) throw model_error(where + ": mean values must be finite numbers");
  for (float s : std)
    if (!(s > 0.0f) || !std::isfinite(s)) throw model_error(where + ": std values must be positive finite numbers");
  if (resize == ResizeMode::shorter_side && (resized_side() < std::max(input_height, input_width) ||
                                            resized_side() > 4 * kMaxInputSide))
    throw model_error(where + ": resize shorter-side:" + std::to_string(resized_side()) + " must be at least the input's " +
                      "larger side (" + std::to_string(std::max(input_height, input_width)) +
                      ", so the centre crop fits) and at most " + std::to_string(4 * kMaxInputSide));
  if (labels.size() == 1) throw model_error(where + ": a classifier needs at least 2 labels");
  // Labels name output files (STEM.METHOD.LABEL.png): two labels that become the same file name
  // would write two classes into one file while the report lists both.
  std::map<std::string, std::string> by_file_name;
  for (const auto& label : labels) {
    if (label.empty()) throw model_error(where + ": labels must not be empty");
    const auto [at, added] = by_file_name.emplace(file_safe(label), label);
    if (!added)
      throw model_error(where + ": labels \"" + at->second + "\" and \"" + label + "\" " +
                        (at->second == label ? "are the same" : "both become the file name part \"" + at->first + "\""));
  }
}

namespace {

const std::vector<std::string> kCardKeys = {"name", "labels", "input_size", "channels", "mean", "std", "output",
                                            "output_element", "target_layer", "window", "tokens", "resize",
                                            "interpolation", "mpp"};
// Documentation keys a card may carry; xai reads none of them, and says nothing about them.
const std::vector<std::string> kInformationKeys = {"schema", "architecture", "description", "notes", "metrics",
                                                   "training", "version", "license", "authors", "source"};


}  // namespace

std::vector<std::string> ModelCard::defaulted() const {
  std::vector<std::string> out;
  if (!given.count("input_size")) out.push_back("input size " + std::to_string(input_height) + "x" + std::to_string(input_width));
  if (!given.count("channels")) out.push_back("channels " + to_string(channels));
  if (!given.count("mean") || !given.count("std"))
    out.push_back(channels == ChannelMode::rgb ? "mean/std ImageNet (0.485,0.456,0.406 / 0.229,0.224,0.225)"
                                               : "mean/std 0.5/0.5");
  if (!given.count("output")) out.push_back("output " + to_string(output));
  return out;
}

ModelCard read_model_card(const std::string& path) {
  return parse_model_card(read_regular_file(path, 16ull << 20, ExitCode::model), path);
}

ModelCard parse_model_card(const std::string& text, const std::string& path) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw model_error(path + ": model card is not valid JSON (" + first_line(e.what()) + ")");
  }
  if (!j.is_object()) throw model_error(path + ": model card must be a JSON object");

  ModelCard card;
  card.source = path;
  for (const auto& [key, value] : j.items()) {
    if (std::find(kCardKeys.begin(), kCardKeys.end(), key) != kCardKeys.end()) {
      card.given.insert(key);
      continue;
    }
    if (std::find(kInformationKeys.begin(), kInformationKeys.end(), key) != kInformationKeys.end()) continue;
    std::string closest;
    size_t best = 3;  // suggest only close matches
    for (const auto& known : kCardKeys)
      if (edit_distance(key, known) < best) best = edit_distance(key, known), closest = known;
    card.warnings.push_back(path + ": unknown key \"" + key + "\" is ignored" +
                            (closest.empty() ? "" : " (did you mean \"" + closest + "\"?)"));
  }
  try {
    if (j.contains("name")) card.name = j.at("name").get<std::string>();
    if (j.contains("labels")) card.labels = j.at("labels").get<std::vector<std::string>>();
    if (j.contains("input_size")) {
      // Checked as JSON numbers: get<int> would truncate 96.7 to 96 and wrap 4294967392 to 96.
      const json& size = j.at("input_size");
      const auto side = [](const json& v) {
        return v.is_number_integer() && v.get<long long>() >= 1 && v.get<long long>() <= ModelCard::kMaxInputSide;
      };
      if (!size.is_array() || size.size() != 2 || !side(size[0]) || !side(size[1]))
        throw model_error(path + ": input_size must be [height, width], two integers in 1.." +
                          std::to_string(ModelCard::kMaxInputSide) + " (got " + size.dump() + ")");
      card.input_height = size[0].get<int>();
      card.input_width = size[1].get<int>();
    }
    if (j.contains("channels")) card.set_channels(parse_channel_mode(j.at("channels").get<std::string>()));
    if (j.contains("mean")) card.mean = j.at("mean").get<std::vector<float>>();
    if (j.contains("std")) card.std = j.at("std").get<std::vector<float>>();
    if (j.contains("resize")) parse_resize(j.at("resize").get<std::string>(), card);
    if (j.contains("interpolation")) card.interpolation = parse_interpolation(j.at("interpolation").get<std::string>());
    if (j.contains("output")) card.output = parse_output_kind(j.at("output").get<std::string>());
    if (j.contains("output_element") && !j.at("output_element").is_null()) {
      const json& element = j.at("output_element");
      if (element.is_number_unsigned() && element.get<unsigned long long>() < 1024)
        card.output_element = std::to_string(element.get<unsigned long long>());
      else if (element.is_string() && !element.get<std::string>().empty())
        card.output_element = element.get<std::string>();
      else
        throw model_error(path + ": output_element must be the index (0, 1, ...) of the class scores in the tuple "
                          "forward() returns, or their key in its dictionary (got " + element.dump() + ")");
    }
    if (j.contains("target_layer") && !j.at("target_layer").is_null())
      card.target_layer = j.at("target_layer").get<std::string>();
    if (j.contains("window") && !j.at("window").is_null()) {
      const json& w = j.at("window");
      if (w.is_string()) {
        try {
          card.window = parse_window(w.get<std::string>());
        } catch (const Error& e) {
          throw model_error(path + ": window " + e.what());
        }
      } else if (w.is_object() && w.contains("center") && w.contains("width") && w.at("center").is_number() &&
                 w.at("width").is_number() && w.size() == 2) {
        card.window = parse_window(std::to_string(w.at("center").get<double>()) + "," +
                                   std::to_string(w.at("width").get<double>()));
      } else {
        throw model_error(path + ": window must be {\"center\": C, \"width\": W} (width >= 1) or a name such as "
                          "\"brain\" or \"minmax\" (got " + w.dump() + ")");
      }
    }
    if (j.contains("mpp") && !j.at("mpp").is_null()) {
      const json& mpp = j.at("mpp");
      if (!mpp.is_number() || !(mpp.get<double>() > 0) || mpp.get<double>() > 1000)
        throw model_error(path + ": mpp must be the microns per pixel the model was trained at, a number in (0, 1000] "
                          "(got " + mpp.dump() + ")");
      card.mpp = mpp.get<double>();
    }
    if (j.contains("tokens") && !j.at("tokens").is_null()) {
      const json& t = j.at("tokens");
      const auto count = [](const json& v, long long low) {
        return v.is_number_integer() && v.get<long long>() >= low && v.get<long long>() <= 65536;
      };
      const bool valid = t.is_object() && t.contains("grid") && t.at("grid").is_array() && t.at("grid").size() == 2 &&
                         count(t.at("grid")[0], 1) && count(t.at("grid")[1], 1) &&
                         (!t.contains("prefix") || count(t.at("prefix"), 0)) &&
                         std::all_of(t.items().begin(), t.items().end(),
                                     [](const auto& item) { return item.key() == "grid" || item.key() == "prefix"; });
      if (!valid)
        throw model_error(path + ": tokens must be {\"grid\": [H, W], \"prefix\": P} (the patch grid of token outputs and "
                          "the class/register tokens before it; got " + t.dump() + ")");
      card.tokens = TokenGrid{t.at("grid")[0].get<int64_t>(), t.at("grid")[1].get<int64_t>(), t.value("prefix", int64_t{0})};
    }
  } catch (const json::exception& e) {
    throw model_error(path + ": model card has a field of the wrong type (" + first_line(e.what()) + ")");
  } catch (const Error& e) {
    if (e.code() == ExitCode::model) throw;
    throw model_error(path + ": " + e.what());
  }
  card.validate();
  return card;
}

namespace {

// Six significant digits: 0.485f is written 0.485, not 0.48500001430511475.
std::vector<double> short_values(const std::vector<float>& values) {
  std::vector<double> out;
  for (float v : values) {
    char text[32];
    std::snprintf(text, sizeof text, "%.6g", v);
    out.push_back(std::strtod(text, nullptr));
  }
  return out;
}

}  // namespace

std::string model_card_text(const ModelCard& card) {
  nlohmann::ordered_json j = {{"schema", "xai.model-card/1"},
                              {"name", card.name},
                              {"labels", card.labels},
                              {"input_size", {card.input_height, card.input_width}},
                              {"channels", to_string(card.channels)},
                              {"mean", short_values(card.mean)},
                              {"std", short_values(card.std)},
                              {"resize", resize_spec(card)},
                              {"interpolation", to_string(card.interpolation)},
                              {"output", to_string(card.output)}};
  if (const std::optional<int> index = card.output_element_index())
    j["output_element"] = *index;
  else if (!card.output_element.empty())
    j["output_element"] = card.output_element;
  if (!card.target_layer.empty()) j["target_layer"] = card.target_layer;
  if (card.window) {
    const DicomWindow& w = *card.window;
    if (w.kind == DicomWindow::Kind::given && w.preset.empty())
      j["window"] = {{"center", w.center}, {"width", w.width}};
    else if (w.kind == DicomWindow::Kind::given)
      j["window"] = w.preset;
    else if (w.kind == DicomWindow::Kind::minmax)
      j["window"] = "minmax";
    else if (w.kind == DicomWindow::Kind::percentile) {
      char text[32];
      std::snprintf(text, sizeof text, "percentile:%g", w.percentile);
      j["window"] = text;
    }
  }
  if (card.mpp) j["mpp"] = *card.mpp;
  if (card.tokens) j["tokens"] = {{"grid", {card.tokens->height, card.tokens->width}}, {"prefix", card.tokens->prefix}};
  return j.dump(2) + "\n";
}

namespace {

std::string numbered(const std::vector<std::string>& labels) {
  std::string out;
  for (size_t i = 0; i < labels.size(); ++i) out += (i ? ", " : "") + std::to_string(i) + "=" + labels[i];
  return out;
}

}  // namespace

DicomWindow parse_window(const std::string& text) {
  DicomWindow w;
  const std::string t = lower(text);
  if (t == "tags") return w;
  if (t == "minmax") {
    w.kind = DicomWindow::Kind::minmax;
    return w;
  }
  struct Preset {
    const char* name;
    double center, width;
  };
  static const Preset presets[] = {{"brain", 40, 80}, {"lung", -600, 1500}, {"bone", 400, 1800}, {"soft-tissue", 50, 400}};
  for (const auto& p : presets)
    if (t == p.name) {
      w.kind = DicomWindow::Kind::given;
      w.center = p.center;
      w.width = p.width;
      w.preset = p.name;
      return w;
    }
  const std::string bad = text + ": expected C,W (centre and width, width >= 1), tags, minmax, percentile:P (0 < P < 50) "
                          "or a CT preset (brain, lung, bone, soft-tissue)";
  if (t.rfind("percentile:", 0) == 0) {
    char* end = nullptr;
    const std::string number = t.substr(11);
    const double p = std::strtod(number.c_str(), &end);
    if (number.empty() || *end != '\0' || !std::isfinite(p) || p <= 0 || p >= 50) throw usage_error(bad);
    w.kind = DicomWindow::Kind::percentile;
    w.percentile = p;
    return w;
  }
  const size_t comma = t.find(',');
  if (comma == std::string::npos) throw usage_error(bad);
  char* end = nullptr;
  const std::string a = t.substr(0, comma), b = t.substr(comma + 1);
  const double center = std::strtod(a.c_str(), &end);
  if (a.empty() || *end != '\0') throw usage_error(bad);
  const double width = std::strtod(b.c_str(), &end);
  if (b.empty() || *end != '\0' || !std::isfinite(center) || !std::isfinite(width) || width < 1) throw usage_error(bad);
  w.kind = DicomWindow::Kind::given;
  w.center = center;
  w.width = width;
  return w;
}

int parse_class(const std::string& text, const std::vector<std::string>& labels) {
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] == text) return static_cast<int>(i);
  for (size_t i = 0; i < labels.size(); ++i)
    if (lower(labels[i]) == lower(text)) return static_cast<int>(i);
  if (!text.empty() && std::all_of(text.begin(), text.end(), ::isdigit) && text.size() < 9) {
    const int index = std::stoi(text);
    if (index < static_cast<int>(labels.size())) return index;
    throw usage_error(text + ": out of range, the model has " +
                      std::to_string(labels.size()) + " classes (" + numbered(labels) + ")");
  }
  throw usage_error(text + ": not a class index or label (" + numbered(labels) + ")");
}

std::optional<std::string> card_path_for(const std::string& model_path) {
  fs::path card = fs::path(model_path).replace_extension(".json");
  std::error_code ec;
  if (fs::is_regular_file(card, ec)) return card.string();
  return std::nullopt;
}

}  // namespace xai
