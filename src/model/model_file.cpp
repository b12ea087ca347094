#include "model/model_file.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <vector>

namespace xai {
namespace {

namespace fs = std::filesystem;

const std::string kExport =
    "save TorchScript: torch.jit.script(model.eval()).save(PATH), or torch.jit.trace (README: Bring your own model)";

std::string read_range(std::ifstream& in, uint64_t offset, uint64_t count) {
  std::string bytes(static_cast<size_t>(count), '\0');
  in.clear();
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(bytes.data(), static_cast<std::streamsize>(count));
  bytes.resize(static_cast<size_t>(std::max<std::streamsize>(in.gcount(), 0)));
  return bytes;
}

// Little-endian unsigned of `width` bytes at `at`; the caller has checked the bounds.
uint64_t little_endian(const std::string& bytes, size_t at, int width) {
  uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(bytes[at + i]);
  return value;
}

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }
bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct ZipEntry {
  std::string name;
  uint64_t method = 0;  // 0: stored, as torch.save and torch.jit.save write every record
  uint64_t compressed_size = 0;
  uint64_t local_offset = 0;
};

// The entries of a zip's central directory; nullopt where there is no end-of-directory record (the
// file was cut short) or the directory lies outside the file.
std::optional<std::vector<ZipEntry>> zip_entries(std::ifstream& in, uint64_t file_size) {
  constexpr uint64_t kRecord = 22, kLongestComment = 65535;
  if (file_size < kRecord) return std::nullopt;
  const uint64_t tail_size = std::min(file_size, kRecord + kLongestComment);
  const std::string tail = read_range(in, file_size - tail_size, tail_size);
  if (tail.size() != tail_size) return std::nullopt;
  size_t record = std::string::npos;
  for (size_t at = tail.size() - kRecord + 1; at-- > 0;)
    if (tail.compare(at, 4, "PK\x05\x06") == 0) {
      record = at;
      break;
    }
  if (record == std::string::npos) return std::nullopt;
  uint64_t count = little_endian(tail, record + 10, 2);
  uint64_t directory_size = little_endian(tail, record + 12, 4);
  uint64_t directory_offset = little_endian(tail, record + 16, 4);
  if (count == 0xFFFF || directory_size == 0xFFFFFFFF || directory_offset == 0xFFFFFFFF) {
    // Zip64 (models over 4 GiB): a locator just before the record says where the 64-bit record is.
    if (record < 20 || tail.compare(record - 20, 4, "PK\x06\x07") != 0) return std::nullopt;
    const std::string zip64 = read_range(in, little_endian(tail, record - 20 + 8, 8), 56);
    if (zip64.size() < 56 || zip64.compare(0, 4, "PK\x06\x06") != 0) return std::nullopt;
    count = little_endian(zip64, 32, 8);
    directory_size = little_endian(zip64, 40, 8);
    directory_offset = little_endian(zip64, 48, 8);
  }
  constexpr uint64_t kLargestDirectory = 64ull << 20;  // a million entries; a hostile file gets no more
  if (directory_size > kLargestDirectory || directory_offset > file_size || directory_size > file_size - directory_offset)
    return std::nullopt;
  const std::string directory = read_range(in, directory_offset, directory_size);
  std::vector<ZipEntry> entries;
  for (size_t at = 0; at + 46 <= directory.size() && directory.compare(at, 4, "PK\x01\x02") == 0 && entries.size() < count;) {
    const size_t name_length = little_endian(directory, at + 28, 2);
    const size_t extra_length = little_endian(directory, at + 30, 2);
    const size_t comment_length = little_endian(directory, at + 32, 2);
    if (at + 46 + name_length > directory.size()) break;
    ZipEntry entry;
    entry.method = little_endian(directory, at + 10, 2);
    entry.compressed_size = little_endian(directory, at + 20, 4);
    entry.local_offset = little_endian(directory, at + 42, 4);
    entry.name = directory.substr(at + 46, name_length);
    entries.push_back(std::move(entry));
    at += 46 + name_length + extra_length + comment_length;
  }
  return entries;
}

// The first bytes of a stored (uncompressed) entry; empty where it is compressed or its header is not
// where the directory says.
std::string stored_prefix(std::ifstream& in, const ZipEntry& entry, uint64_t count) {
  if (entry.method != 0) return {};
  const std::string header = read_range(in, entry.local_offset, 30);
  if (header.size() < 30 || header.compare(0, 4, "PK\x03\x04") != 0) return {};
  const uint64_t data = entry.local_offset + 30 + little_endian(header, 26, 2) + little_endian(header, 28, 2);
  return read_range(in, data, std::min(count, entry.compressed_size));
}

// What a pickle builds first: the class of its top object (GLOBAL, or STACK_GLOBAL after two short
// strings from protocol 4 on) or a dictionary.
struct PickleTop {
  bool dictionary = false;
  std::string module, name;  // empty: neither could be read
};

PickleTop pickle_top(const std::string& pickle) {
  const auto byte = [&](size_t at) { return at < pickle.size() ? static_cast<unsigned char>(pickle[at]) : -1; };
  size_t at = 0;
  if (byte(at) == 0x80) at += 2;  // PROTO n
  if (byte(at) == 0x95) at += 9;  // FRAME and its 8-byte length
  PickleTop top;
  if (byte(at) == '}') {
    top.dictionary = true;
    return top;
  }
  if (byte(at) == 'c') {  // GLOBAL "module\nname\n"
    const size_t module_end = pickle.find('\n', at + 1);
    const size_t name_end = module_end == std::string::npos ? module_end : pickle.find('\n', module_end + 1);
    if (name_end == std::string::npos) return top;
    top.module = pickle.substr(at + 1, module_end - at - 1);
    top.name = pickle.substr(module_end + 1, name_end - module_end - 1);
    return top;
  }
  std::string parts[2];
  for (std::string& part : parts) {
    const int length = byte(at + 1);
    if (byte(at) != 0x8c || length < 0 || at + 2 + length > pickle.size()) return top;  // SHORT_BINUNICODE
    part = pickle.substr(at + 2, length);
    at += 2 + length;
    if (byte(at) == 0x94) ++at;  // MEMOIZE
  }
  if (byte(at) != 0x93) return top;  // STACK_GLOBAL
  top.module = parts[0];
  top.name = parts[1];
  return top;
}

std::string torch_save_reason(const PickleTop& top) {
  if (top.dictionary)
    return "a dictionary saved by torch.save (a training checkpoint?), not a TorchScript model: load the model's "
           "weights from it in Python, then " + kExport;
  if (top.module == "collections" && top.name == "OrderedDict")
    return "a state_dict (weights only, as torch.save(model.state_dict()) writes), not a TorchScript model: load it "
           "into its model in Python (model.load_state_dict), then " + kExport;
  if (starts_with(top.module, "torch._utils") || starts_with(top.module, "torch._tensor"))
    return "a tensor saved by torch.save, not a model: " + kExport;
  if (!top.module.empty())
    return "a pickled Python object of class " + top.module + "." + top.name +
           " (torch.save(model) writes one), not a TorchScript model: only Python can run it; " + kExport;
  return "a file saved by torch.save, not a TorchScript model: " + kExport;
}

std::string zip_reason(std::ifstream& in, uint64_t file_size, const std::string& loader_message) {
  const std::optional<std::vector<ZipEntry>> entries = zip_entries(in, file_size);
  if (!entries)
    return "a zip archive cut short or damaged (it has no directory at its end): a copy or download that did not "
           "finish? Copy the model file again";
  bool torchscript = false, exported = false, aot_compiled = false, keras_config = false, keras_weights = false;
  const ZipEntry* saved_pickle = nullptr;
  for (const ZipEntry& entry : *entries) {
    const std::string& name = entry.name;
    if (ends_with(name, "/constants.pkl") || name.find("/code/") != std::string::npos) torchscript = true;
    if (ends_with(name, "/archive_format") || ends_with(name, "/models/model.json") ||
        name.find("serialized_exported_program") != std::string::npos)
      exported = true;
    if (name.find("/data/aotinductor/") != std::string::npos) aot_compiled = true;
    if (name == "config.json") keras_config = true;
    if (name == "model.weights.h5") keras_weights = true;
    if (ends_with(name, "/data.pkl") && std::count(name.begin(), name.end(), '/') == 1) saved_pickle = &entry;
  }
  if (torchscript)
    return "a TorchScript archive that this LibTorch cannot load (" + loader_message +
           "); saved by a newer PyTorch than xai's LibTorch (`xai --version`)?";
  if (aot_compiled)
    return "an AOTInductor package (torch._inductor.aoti_compile_and_package), not a TorchScript model: it is "
           "compiled for inference and has no gradients or layers to explain; " + kExport;
  if (exported)
    return "a torch.export program (torch.export.save), not a TorchScript model: xai loads TorchScript; " + kExport;
  if (keras_config && keras_weights)
    return "a Keras model (.keras), not a TorchScript model: xai explains PyTorch models exported to TorchScript";
  if (saved_pickle) return torch_save_reason(pickle_top(stored_prefix(in, *saved_pickle, 4096)));
  return "a zip archive without TorchScript's code and constants, not a TorchScript model (" + loader_message + ")";
}

}  // namespace

std::string unloadable_model_reason(const std::string& path, const std::string& loader_message) {
  const std::string not_torchscript = "not a TorchScript model (" + loader_message + ")";
  std::error_code error;
  const uint64_t file_size = fs::file_size(path, error);
  std::ifstream in(path, std::ios::binary);
  if (error || !in) return not_torchscript;
  const std::string head = read_range(in, 0, 64);
  const auto byte = [&](size_t at) { return at < head.size() ? static_cast<unsigned char>(head[at]) : -1; };
  std::string extension = fs::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });

  if (starts_with(head, "PK\x03\x04") || starts_with(head, std::string("PK\x05\x06", 4)))
    return zip_reason(in, file_size, loader_message);
  // torch.save before PyTorch 1.6: a pickle of the magic number 0x1950a86a20f9469cfc6c (LONG1), then the object.
  if (starts_with(head, std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 14)))
    return "a file saved by torch.save in its format from before PyTorch 1.6, not a TorchScript model: " + kExport;
  if (starts_with(head, "\x89HDF\r\n\x1a\n"))
    return "an HDF5 file (a Keras .h5 model?), not a TorchScript model: xai explains PyTorch models exported to "
           "TorchScript";
  // ONNX's ModelProto begins with ir_version (field 1, a small varint), then producer_name or the graph.
  const bool onnx_fields = byte(0) == 0x08 && byte(1) >= 1 && byte(1) <= 30 && (byte(2) == 0x12 || byte(2) == 0x3a);
  if (extension == ".onnx" || onnx_fields)
    return "an ONNX model, not a TorchScript model: xai needs the PyTorch model itself (its layers and gradients); " +
           kExport;
  // safetensors: an 8-byte little-endian header length, then the header's JSON.
  if (head.size() > 9 && byte(8) == '{' && little_endian(head, 0, 8) < file_size)
    return "safetensors weights (tensors only), not a TorchScript model: load them into the model in Python, then " +
           kExport;
  if (byte(0) == 0x80) return "a Python pickle, not a TorchScript model: " + kExport;
  return not_torchscript;
}

std::string model_directory_reason(const std::string& path) {
  std::error_code error;
  if (fs::exists(fs::path(path) / "saved_model.pb", error))
    return "a TensorFlow SavedModel (a directory), not a TorchScript model file: xai explains PyTorch models exported "
           "to TorchScript";
  return "is a directory, not a model file";
}

}  // namespace xai
