// Owen values over a binary hierarchy of pixels (shapley.hpp): the hierarchies and the recursion.
#include <algorithm>
#include <limits>
#include <memory>
#include <queue>
#include <set>

#include "xai/error.hpp"
#include "methods/shapley.hpp"

namespace xai {

PartitionKind parse_partition(const std::string& name) {
  if (name == "axes") return PartitionKind::axes;
  if (name == "superpixels") return PartitionKind::superpixels;
  throw usage_error(setting_name("partition") + " " + name + ": expected axes or superpixels");
}

std::string to_string(PartitionKind kind) { return kind == PartitionKind::axes ? "axes" : "superpixels"; }

namespace {

// Appends the subtree of rectangle r (pixels in DFS order) and returns its node index.
int split_rect(Hierarchy& h, const cv::Rect& r) {
  const int index = static_cast<int>(h.nodes.size());
  h.nodes.push_back({});
  h.nodes[index].begin = static_cast<int>(h.pixel_order.size());
  if (r.area() == 1) {
    h.pixel_order.push_back(r.y * h.width + r.x);
  } else {
    cv::Rect first = r, second = r;
    if (r.width >= r.height) {
      first.width = r.width / 2;
      second.x += first.width;
      second.width -= first.width;
    } else {
      first.height = r.height / 2;
      second.y += first.height;
      second.height -= first.height;
    }
    const int left = split_rect(h, first);
    const int right = split_rect(h, second);
    h.nodes[index].left = left;
    h.nodes[index].right = right;
  }
  h.nodes[index].end = static_cast<int>(h.pixel_order.size());
  return index;
}

}  // namespace

Hierarchy axis_hierarchy(int height, int width) {
  if (height < 1 || width < 1) throw usage_error("Partition SHAP: empty image");
  Hierarchy h;
  h.height = height;
  h.width = width;
  h.nodes.reserve(static_cast<size_t>(2) * height * width);
  h.pixel_order.reserve(static_cast<size_t>(height) * width);
  split_rect(h, cv::Rect(0, 0, width, height));
  return h;
}

Hierarchy merge_hierarchy(const cv::Mat& view, const cv::Mat& segments, int count) {
  CV_Assert(segments.type() == CV_32SC1 && view.size() == segments.size());
  if (count < 1) throw usage_error("Partition SHAP: no regions");
  const int channels = view.channels();
  std::vector<std::vector<int>> pixels(count);
  std::vector<cv::Vec3d> sum(count, cv::Vec3d(0, 0, 0));
  std::set<std::pair<int, int>> adjacent;
  for (int y = 0; y < segments.rows; ++y)
    for (int x = 0; x < segments.cols; ++x) {
      const int s = segments.at<int>(y, x);
      pixels[s].push_back(y * segments.cols + x);
      for (int c = 0; c < channels; ++c)
        sum[s][c] += channels == 3 ? view.at<cv::Vec3f>(y, x)[c] : view.at<float>(y, x);
      const int right = x + 1 < segments.cols ? segments.at<int>(y, x + 1) : s;
      const int below = y + 1 < segments.rows ? segments.at<int>(y + 1, x) : s;
      for (int t : {right, below})
        if (t != s) adjacent.insert({std::min(s, t), std::max(s, t)});
    }
  // Agglomerative clustering: cluster k (k < count: segment k) has children, size and mean colour.
  struct Cluster {
    int left = -1, right = -1;
    double size = 0;
    cv::Vec3d mean;
    bool active = true;
  };
  std::vector<Cluster> clusters(count);
  std::vector<std::set<int>> neighbours(count);
  for (int s = 0; s < count; ++s) {
    clusters[s].size = static_cast<double>(pixels[s].size());
    clusters[s].mean = pixels[s].empty() ? cv::Vec3d() : sum[s] / clusters[s].size;
  }
  for (const auto& [a, b] : adjacent) neighbours[a].insert(b), neighbours[b].insert(a);
  auto ward = [&](int a, int b) {
    const cv::Vec3d d = clusters[a].mean - clusters[b].mean;
    return clusters[a].size * clusters[b].size / (clusters[a].size + clusters[b].size) * d.dot(d);
  };
  for (int merges = 0; merges < count - 1; ++merges) {
    int best_a = -1, best_b = -1;
    double best = std::numeric_limits<double>::infinity();
    for (int pass = 0; pass < 2 && best_a < 0; ++pass)  // neighbours first; any pair when none are left
      for (size_t a = 0; a < clusters.size(); ++a) {
        if (!clusters[a].active) continue;
        for (size_t b = a + 1; b < clusters.size(); ++b) {
          if (!clusters[b].active || (pass == 0 && !neighbours[a].count(static_cast<int>(b)))) continue;
          const double d = ward(static_cast<int>(a), static_cast<int>(b));
          if (d < best) best = d, best_a = static_cast<int>(a), best_b = static_cast<int>(b);
        }
      }
    Cluster merged;
    merged.left = best_a;
    merged.right = best_b;
    merged.size = clusters[best_a].size + clusters[best_b].size;
    merged.mean = merged.size > 0 ? (clusters[best_a].mean * clusters[best_a].size +
                                     clusters[best_b].mean * clusters[best_b].size) / merged.size
                                  : cv::Vec3d();
    clusters[best_a].active = clusters[best_b].active = false;
    const int index = static_cast<int>(clusters.size());
    std::set<int> around;
    for (int n : neighbours[best_a]) around.insert(n);
    for (int n : neighbours[best_b]) around.insert(n);
    around.erase(best_a);
    around.erase(best_b);
    for (int n : around) neighbours[n].insert(index);
    clusters.push_back(merged);
    neighbours.push_back(around);
  }
  // Lay the tree out root first with each node's pixels contiguous.
  Hierarchy h;
  h.height = segments.rows;
  h.width = segments.cols;
  struct Builder {
    const std::vector<Cluster>& clusters;
    const std::vector<std::vector<int>>& pixels;
    Hierarchy& h;
    int build(int cluster) {
      const int index = static_cast<int>(h.nodes.size());
      h.nodes.push_back({});
      h.nodes[index].begin = static_cast<int>(h.pixel_order.size());
      const Cluster& c = clusters[cluster];
      if (c.left < 0) {
        h.pixel_order.insert(h.pixel_order.end(), pixels[cluster].begin(), pixels[cluster].end());
      } else {
        const int left = build(c.left);
        const int right = build(c.right);
        h.nodes[index].left = left;
        h.nodes[index].right = right;
      }
      h.nodes[index].end = static_cast<int>(h.pixel_order.size());
      return index;
    }
  };
  Builder{clusters, pixels, h}.build(static_cast<int>(clusters.size()) - 1);
  return h;
}

OwenResult owen_values(const Hierarchy& h, const CoalitionValue& value, int max_evals, int batch) {
  if (max_evals < 2)
    throw usage_error(setting_name("max_evals") + " must be at least 2 (got " + std::to_string(max_evals) + ")");
  const size_t pixels = static_cast<size_t>(h.height) * h.width;
  using Mask = std::shared_ptr<const std::vector<uint8_t>>;
  struct Item {
    double priority;
    int node;
    Mask context;  // the pixels shown around the node (m00)
    double f_off, f_on;  // f(context), f(context ∪ node)
    double weight;
    bool operator<(const Item& o) const { return priority < o.priority; }
  };
  OwenResult result;
  result.pixel_values.assign(pixels, 0.0);
  auto credit = [&](int node, double amount) {
    const Hierarchy::Node& n = h.nodes[node];
    const double share = amount / (n.end - n.begin);
    for (int i = n.begin; i < n.end; ++i) result.pixel_values[h.pixel_order[i]] += share;
  };
  auto with = [&](const Mask& base, int node) {
    auto m = std::make_shared<std::vector<uint8_t>>(*base);
    const Hierarchy::Node& n = h.nodes[node];
    for (int i = n.begin; i < n.end; ++i) (*m)[h.pixel_order[i]] = 1;
    return Mask(m);
  };

  const Mask none = std::make_shared<const std::vector<uint8_t>>(pixels, 0);
  const Mask all = std::make_shared<const std::vector<uint8_t>>(pixels, 1);
  const std::vector<double> ends = value({*none, *all});
  result.f_empty = ends.at(0);
  result.f_full = ends.at(1);
  result.evaluations = 2;

  std::priority_queue<Item> queue;
  auto offer = [&](int node, const Mask& context, double f_off, double f_on, double weight) {
    if (h.nodes[node].leaf())
      credit(node, (f_on - f_off) * weight);
    else
      queue.push({std::abs(f_on - f_off) * weight, node, context, f_off, f_on, weight});
  };
  offer(0, none, result.f_empty, result.f_full, 1.0);

  const int per_call = std::max(1, batch / 2);
  while (!queue.empty() && result.evaluations + 2 <= max_evals) {
    std::vector<Item> items;
    std::vector<std::vector<uint8_t>> masks;
    std::vector<Mask> shown;
    while (!queue.empty() && static_cast<int>(items.size()) < per_call &&
           result.evaluations + 2 * static_cast<int>(items.size() + 1) <= max_evals) {
      items.push_back(queue.top());
      queue.pop();
      const Hierarchy::Node& n = h.nodes[items.back().node];
      shown.push_back(with(items.back().context, n.left));   // m10
      shown.push_back(with(items.back().context, n.right));  // m01
      masks.push_back(*shown[shown.size() - 2]);
      masks.push_back(*shown.back());
    }
    const std::vector<double> f = value(masks);
    result.evaluations += static_cast<int>(masks.size());
    for (size_t i = 0; i < items.size(); ++i) {
      const Item& it = items[i];
      const Hierarchy::Node& n = h.nodes[it.node];
      const double f10 = f[2 * i], f01 = f[2 * i + 1], w = it.weight / 2;
      // Each child plays against its sibling, absent (context m00) and present (m00 ∪ sibling).
      offer(n.left, it.context, it.f_off, f10, w);
      offer(n.right, it.context, it.f_off, f01, w);
      offer(n.left, shown[2 * i + 1], f01, it.f_on, w);
      offer(n.right, shown[2 * i], f10, it.f_on, w);
      ++result.expanded;
    }
  }
  result.exact = queue.empty();
  for (; !queue.empty(); queue.pop()) credit(queue.top().node, (queue.top().f_on - queue.top().f_off) * queue.top().weight);
  return result;
}

}  // namespace xai
