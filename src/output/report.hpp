// The JSON report: one schema for every method, so scripts (jq, pandas) read all alike.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "xai/image.hpp"
#include "xai/map_stats.hpp"
#include "xai/model.hpp"

namespace xai {

constexpr int kReportSchemaVersion = 1;
const char* xai_version();

nlohmann::ordered_json image_json(const Image& image);
// A DICOM input's reading: modality, size, photometric, transfer syntax, frame, rescale, window.
nlohmann::ordered_json dicom_json(const DicomInfo& info);
nlohmann::ordered_json model_json(Model& model);
// What the model's checks measured so far (Model::checks()); a check that has not run says why.
nlohmann::ordered_json model_checks_json(const Model& model);
// A plan's model section (model_json) with the checks as they stand now: for files written at a run's end.
nlohmann::ordered_json with_current_checks(nlohmann::ordered_json planned, const Model& model);
// The card as applied (after command-line overrides): input size, channels, mean, std, output, labels.
nlohmann::ordered_json card_json(Model& model);
nlohmann::ordered_json preprocessing_json(const Image& image, const ModelCard& card);
nlohmann::ordered_json prediction_json(const Prediction& prediction, const std::vector<std::string>& labels);
// Pixel coordinates are in the original image.
nlohmann::ordered_json map_stats_json(const MapStats& stats);

struct ExplainPlan;
struct ComputedExplanation;
struct RenderedExplanation;
struct PreparedImage;

// The whole report of one image (STEM.json): the one place it is assembled.
nlohmann::ordered_json build_report(const PreparedImage& image, const ComputedExplanation& computed,
                                    const ExplainPlan& plan, const RenderedExplanation& rendered,
                                    const nlohmann::ordered_json& timings,
                                    const nlohmann::ordered_json& carried = nlohmann::ordered_json::array());

}  // namespace xai
