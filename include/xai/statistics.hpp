// Order statistics shared by the report-level summaries (drift percentiles) and the DICOM window
// (percentile:P).
#pragma once

#include <vector>

namespace xai {

// The q-quantiles (each 0..1) with linear interpolation between order statistics (numpy's default);
// 0 for no values. One sort serves every q.
std::vector<double> quantiles(std::vector<double> values, const std::vector<double>& qs);
double quantile(std::vector<double> values, double q);

}  // namespace xai
