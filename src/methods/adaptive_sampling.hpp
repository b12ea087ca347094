// `--samples auto` for the sampled surrogates (LIME, Kernel SHAP): draw samples in growing rounds
// from the method's own sampling scheme, refit, and stop once the explanation has settled. How
// settled is estimated from the data alone: the region weights fitted on two independent halves of
// the samples are compared (Spearman ρ), and the Spearman–Brown step turns that half-vs-half
// agreement into the expected agreement of the full fit with its limit (the infinite-sample
// explanation). Because the rounds extend one sample sequence, stopping at n samples gives exactly
// the explanation a fixed `--samples n` gives.
#pragma once

#include <vector>

#include "xai/settings.hpp"

namespace xai {

// If an estimate's noise variance falls as 1/n and two independent n/2-sample estimates agree with
// correlation r, the n-sample estimate agrees with the limit with correlation sqrt(2r / (1 + r))
// (Spearman–Brown: r = S/(S + 2N), ρ² = S/(S + N) for signal variance S and n-sample noise N).
// r ≤ 0 gives 0.
double settled_agreement(double half_agreement);

// Agreement of two weight vectors from independent halves: Spearman ρ; two all-equal vectors (a
// model that ignores every region) agree completely, one all-equal vector against a varying one
// not at all.
double half_agreement(const std::vector<double>& a, const std::vector<double>& b);

// The sample counts at which auto sampling refits: `first`, then ×1.25 each time, each rounded up
// to a multiple of `step`, the last one `max` (so at most ~20 refits up to 100× `first`).
std::vector<int> check_points(int first, int max, int step);

// The refits of a surrogate over `regions` regions: first 4 samples per region (at least 100: enough
// for a ridge over every region in each half), in whole probe batches (16 while the batch is measured).
std::vector<int> auto_rounds(int regions, int max_samples, int probe_batch);

// What a sampled explanation records in its report.
struct SamplingOutcome {
  bool automatic = false;
  int samples = 0;               // samples used (LIME: including the original; SHAP: coalitions)
  double half_agreement = 1;     // the worst class's half-vs-half Spearman ρ at the last check
  double agreement = 1;          // settled_agreement of it: the estimated ρ with the limit
  bool settled = true;           // agreement ≥ 1 − tolerance (fixed sampling: always true)
  int checks = 0;                // refits

  // One refit's verdict from the worst target class's half agreement; returns `settled`.
  bool record_check(double worst_half_agreement, double tolerance);
};

}  // namespace xai
