// Order statistics shared by the report-level summaries (drift percentiles) and the DICOM window
// (percentile:P), and rank correlation (map agreement, LIME's and adaptive sampling's stability).
#pragma once

#include <vector>

namespace xai {

// The q-quantiles (each 0..1) with linear interpolation between order statistics (numpy's default);
// 0 for no values. One sort serves every q.
std::vector<double> quantiles(std::vector<double> values, const std::vector<double>& qs);
double quantile(std::vector<double> values, double q);

// Spearman rank correlation (ties get their mean rank); 0 when either side is constant.
double spearman(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace xai
