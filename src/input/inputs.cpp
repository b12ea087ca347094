#include "xai/inputs.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "input/dicom.hpp"
#include "xai/error.hpp"
#include "core/text.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;

bool matches(const std::string& pattern, const InputFile& file) {
  const std::string name = fs::path(file.relative).filename().string();
  return fnmatch(pattern.c_str(), file.relative.c_str(), 0) == 0 || fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

bool is_mask_file(const fs::path& path) { return path.stem().extension() == ".mask"; }

bool is_one_of(const fs::path& dir, const std::vector<fs::path>& dirs) {
  std::error_code ec;
  for (const auto& d : dirs)
    if (fs::equivalent(dir, d, ec)) return true;
  return false;
}

bool is_output_dir(const fs::path& dir, const std::vector<fs::path>& output_dirs) {
  return dir.filename() == "xai-out" || is_one_of(dir, output_dirs);
}

// Ground truth beside the images (eval's layout: IMAGES/masks/STEM.png) is never explained as an image.
bool is_mask_dir(const fs::path& dir, const std::vector<fs::path>& mask_dirs) {
  const std::string name = lower(dir.filename().string());
  return name == "masks" || name == "mask" || is_one_of(dir, mask_dirs);
}

// Files below `dir` (an output folder): all of them are skipped, and counted.
size_t count_files(const fs::path& dir) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file(ec) && has_image_extension(it->path().string())) ++n;
  }
  return n;
}

// Adds what `spec` names to `found`, and to `roots` the folder(s) its relative names start from: a
// folder itself, a file's folder, a list's listed files' folders.
void expand(const std::string& spec, std::vector<fs::path>& found, std::vector<fs::path>& roots, bool want_all_files,
            const std::vector<fs::path>& output_dirs, const std::vector<fs::path>& mask_dirs,
            const OutputNameRule& is_output_name, DiscoveryCounts& counts) {
  std::error_code ec;
  if (!spec.empty() && spec[0] == '@') {
    const std::string list = spec.substr(1);
    std::ifstream in(list);
    if (!in) throw usage_error(list + ": cannot read input list");
    const fs::path base = fs::path(list).parent_path();
    std::string line;
    while (std::getline(in, line)) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      const fs::path p(line);
      // Listed files are taken as they are: the run records a missing one as a failed input.
      found.push_back(p.is_absolute() ? p : base / p);
      roots.push_back(fs::absolute(found.back()).lexically_normal().parent_path());
    }
    return;
  }
  if (fs::is_directory(spec, ec)) {
    fs::path root = fs::absolute(spec).lexically_normal();
    if (root.filename().empty()) root = root.parent_path();  // "IN/" names IN
    roots.push_back(root);
    for (auto it = fs::recursive_directory_iterator(spec, fs::directory_options::skip_permission_denied, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      // Broken links are kept: the run records them as failed inputs instead of silently skipping.
      const fs::path& p = it->path();
      if (it->is_directory(ec) && is_output_dir(p, output_dirs)) {
        counts.skipped_outputs += count_files(p);
        it.disable_recursion_pending();
        continue;
      }
      if (it->is_directory(ec) && is_mask_dir(p, mask_dirs)) {
        counts.skipped_masks += count_files(p);
        it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file(ec) && !it->is_symlink(ec)) continue;
      if (is_mask_file(p)) {
        counts.skipped_masks += 1;
        continue;
      }
      if (!want_all_files && !has_image_extension(p.string()) && !is_extensionless_dicom(p)) continue;
      if (is_output_name(p.filename().string())) {
        counts.skipped_outputs += 1;
        continue;
      }
      found.push_back(p);
    }
    return;
  }
  if (!fs::exists(spec, ec)) throw usage_error(spec + ": no such file or folder");
  found.push_back(spec);
  roots.push_back(fs::absolute(spec).lexically_normal().parent_path());
}

}  // namespace

bool is_extensionless_dicom(const std::filesystem::path& path) {
  // Scanners and PACS exports often name files by UID or number: "IM0001", "1.2.840.113619....".
  // Only such names are opened, and only 132 bytes of them.
  const std::string ext = path.extension().string();
  const bool digits_only = !ext.empty() && ext.find_first_not_of(".0123456789") == std::string::npos;
  if (!ext.empty() && !digits_only) return false;
  std::ifstream in(path, std::ios::binary);
  char head[132];
  if (!in.read(head, sizeof head)) return false;
  return std::memcmp(head + 128, "DICM", 4) == 0;
}

bool has_image_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  static const char* known[] = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".ppm", ".pgm", ".pbm", ".webp",
                                ".dcm", ".dicom"};
  return std::find(std::begin(known), std::end(known), ext) != std::end(known);
}

std::string input_stem(const fs::path& file) {
  return has_image_extension(file.string()) ? file.stem().string() : file.filename().string();
}

std::vector<InputFile> find_inputs(const std::vector<std::string>& specs, const InputSelection& selection,
                                  const OutputNameRule& is_output_name, DiscoveryCounts* counts) {
  std::vector<fs::path> found;
  std::vector<fs::path> output_dirs(selection.output_dirs.begin(), selection.output_dirs.end());
  std::vector<fs::path> mask_dirs(selection.mask_dirs.begin(), selection.mask_dirs.end());
  DiscoveryCounts local;
  std::vector<fs::path> roots;
  for (const auto& spec : specs)
    expand(spec, found, roots, !selection.include.empty(), output_dirs, mask_dirs, is_output_name, local);
  if (counts) *counts = local;

  // Relative paths below the common folder of the INPUT arguments (not of what was found in them), so
  // outputs mirror the tree, a/x.png and b/x.png never collide, and a file added beside the others
  // changes neither the layout, the resume keys nor the shards of the files already there.
  std::vector<fs::path> absolute;
  for (const auto& p : found) absolute.push_back(fs::absolute(p).lexically_normal());
  fs::path common;
  for (const auto& dir : roots) {
    if (common.empty()) {
      common = dir;
      continue;
    }
    fs::path shared;
    for (auto a = common.begin(), b = dir.begin(); a != common.end() && b != dir.end() && *a == *b; ++a, ++b)
      shared /= *a;
    common = shared;
  }

  std::vector<InputFile> files;
  std::set<std::string> seen;
  for (size_t i = 0; i < found.size(); ++i) {
    // The relative name is what outputs, journals and galleries show: UTF-8 always (utf8_path).
    InputFile file{found[i].string(), utf8_path(absolute[i].lexically_relative(common).string())};
    if (!seen.insert(file.relative).second) continue;
    if (!selection.include.empty() &&
        std::none_of(selection.include.begin(), selection.include.end(), [&](const auto& g) { return matches(g, file); }))
      continue;
    if (std::any_of(selection.exclude.begin(), selection.exclude.end(), [&](const auto& g) { return matches(g, file); }))
      continue;
    files.push_back(std::move(file));
  }
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.relative < b.relative; });
  return files;
}

std::string InputFile::id() const { return frame > 0 ? relative + "#" + frame_suffix(frame, frames).substr(1) : relative; }

std::vector<InputFile> expand_frames(const std::vector<InputFile>& files) {
  std::vector<InputFile> expanded;
  for (const auto& file : files) {
    std::string head(132, '\0');
    std::ifstream in(file.path, std::ios::binary);
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<size_t>(std::max<std::streamsize>(0, in.gcount())));
    const int frames = looks_like_dicom(head, file.path) ? dicom_frame_count(file.path) : 0;
    if (frames <= 1) {
      expanded.push_back(file);
      continue;
    }
    for (int f = 1; f <= frames; ++f) {
      InputFile one = file;
      one.frame = f;
      one.frames = frames;
      expanded.push_back(std::move(one));
    }
  }
  return expanded;
}

Shard parse_shard(const std::string& text) {
  Shard shard;
  char slash = 0;
  std::istringstream in(text);
  in >> shard.index >> slash >> shard.count;
  if (!in || slash != '/' || in.peek() != EOF || shard.count < 1 || shard.index < 0 || shard.index >= shard.count)
    throw usage_error(setting_name("shard") + " " + text + ": expected I/N with 0 <= I < N, e.g. 0/4");
  return shard;
}

bool in_shard(const InputFile& file, const Shard& shard) {
  uint64_t hash = 1469598103934665603ull;  // FNV-1a, 64 bit
  for (unsigned char c : file.relative) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return static_cast<int>(hash % static_cast<uint64_t>(shard.count)) == shard.index;
}

}  // namespace xai
