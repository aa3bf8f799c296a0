#include "stylize/weights/catalog.hpp"

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>

#include "stylize/errors.hpp"

namespace stylize {
namespace fs = std::filesystem;

namespace {

// Keras's own record of the file (keras/applications/vgg19.py: WEIGHTS_PATH_NO_TOP
// and the file_hash given to get_file; 32 hex digits, so MD5). The size is what
// Keras's downloader reports for it.
constexpr const char* kKerasNotopUrl =
    "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
    "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5";
constexpr const char* kKerasNotopMd5 = "253f8cb515780f3b799900260a226db6";
constexpr uint64_t kKerasNotopSize = 80134624;

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// The folder above the running executable's folder ("" if unknown).
fs::path installation_prefix() {
  std::error_code error;
  const fs::path executable = fs::read_symlink("/proc/self/exe", error);
  if (error || executable.empty()) return {};
  return executable.parent_path().parent_path();
}

}  // namespace

const std::vector<KnownWeights>& known_weights() {
  static const std::vector<KnownWeights> catalog = [] {
    std::vector<KnownWeights> list;
    KnownWeights keras;
    keras.id = "keras-notop";
    keras.file_name = kDefaultWeightsFileName;
    keras.url = kKerasNotopUrl;
    keras.origin = "Keras applications (keras.applications.VGG19(include_top=False)), the default download";
    keras.format = "keras-hdf5";
    keras.convention = "caffe";
    keras.checksum = kKerasNotopMd5;
    keras.size = kKerasNotopSize;
    keras.size_text = "80 MB";
    keras.direct = true;
    list.push_back(keras);

    KnownWeights timm;
    timm.id = "timm-tv";
    timm.file_name = "vgg19.safetensors";
    timm.url = "https://huggingface.co/timm/vgg19.tv_in1k/resolve/main/model.safetensors";
    timm.origin = "timm vgg19.tv_in1k (torchvision's weights) via scripts/download_models.sh";
    timm.format = "safetensors";
    timm.convention = "torchvision";
    timm.checksum = "11aea017b543ff59233749d8f1cf544cda749378f5790d2fedab841fb86b7669";
    timm.size_text = "575 MB";
    timm.direct = true;
    list.push_back(timm);

    KnownWeights torchvision;
    torchvision.id = "torchvision";
    torchvision.file_name = "vgg19-dcbb9e9d.pth";
    torchvision.url = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth";
    torchvision.origin = "torchvision.models.vgg19(weights=\"IMAGENET1K_V1\")";
    torchvision.format = "pytorch";
    torchvision.convention = "torchvision";
    torchvision.sha256_prefix = "dcbb9e9d";
    torchvision.size_text = "548 MB";
    list.push_back(torchvision);

    KnownWeights caffe;
    caffe.id = "caffe-pth";
    caffe.file_name = "vgg19-d01eb7cb.pth";
    caffe.url = "https://web.eecs.umich.edu/~justincj/models/vgg19-d01eb7cb.pth";
    caffe.origin = "Caffe VGG19 converted to PyTorch (jcjohnson/pytorch-vgg), used by neural-style-pt";
    caffe.format = "pytorch";
    caffe.convention = "caffe";
    caffe.sha256_prefix = "d01eb7cb";
    caffe.size_text = "548 MB";
    list.push_back(caffe);

    KnownWeights matconvnet;
    matconvnet.id = "matconvnet";
    matconvnet.file_name = "imagenet-vgg-verydeep-19.mat";
    matconvnet.url = "https://www.vlfeat.org/matconvnet/models/imagenet-vgg-verydeep-19.mat";
    matconvnet.origin = "MatConvNet pretrained models (used by anishathalye/neural-style)";
    matconvnet.format = "matconvnet";
    matconvnet.convention = "caffe";
    matconvnet.checksum = "106118b7cf60435e6d8e04f6a6dc3657";
    matconvnet.size_text = "about 510 MB";
    list.push_back(matconvnet);
    return list;
  }();
  return catalog;
}

const KnownWeights* find_known_weights(const std::string& file_name) {
  for (const auto& known : known_weights()) {
    if (known.file_name == file_name) return &known;
  }
  return nullptr;
}

DownloadSource default_download_source() {
  const KnownWeights& keras = known_weights().front();
  DownloadSource source;
  source.url = keras.url;
  source.checksum = keras.checksum;
  source.size = keras.size;
  source.size_text = keras.size_text;
  source.file_name = keras.file_name;
  if (const std::string url = env_or_empty("STYLIZE_WEIGHTS_URL"); !url.empty()) source.url = url;
  if (const std::string checksum = env_or_empty("STYLIZE_WEIGHTS_CHECKSUM"); !checksum.empty()) {
    source.checksum = lower(checksum);  // hex digits in either case, compared in lower
    source.size = 0;
    source.size_text = "size unknown";
  }
  return source;
}

bool offline_from_environment() {
  const std::string value = lower(env_or_empty("STYLIZE_OFFLINE"));
  return !value.empty() && value != "0" && value != "false" && value != "no";
}

std::string weights_cache_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg && fs::path(xdg).is_absolute()) {
    return (fs::path(xdg) / "stylize").string();
  }
  if (const char* home = std::getenv("HOME"); home && *home) return (fs::path(home) / ".cache" / "stylize").string();
  return "";
}

std::vector<std::string> weights_search_directories() {
  std::vector<std::string> directories = {"models"};
  std::vector<fs::path> seen;
  std::error_code error;
  const auto add = [&](const fs::path& directory) {
    const fs::path canonical = fs::weakly_canonical(directory, error);
    for (const auto& known : seen) {
      if (!error && known == canonical) return;
    }
    seen.push_back(canonical);
    directories.push_back(directory.string());
  };
  seen.push_back(fs::weakly_canonical("models", error));
  if (const fs::path prefix = installation_prefix(); !prefix.empty()) {
    add(prefix / "share" / "stylize" / "models");
    add(prefix / "models");
  }
  if (const std::string cache = weights_cache_dir(); !cache.empty()) add(cache);
  return directories;
}

std::vector<std::string> default_weights_candidates() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("STYLIZE_WEIGHTS"); env && *env) candidates.emplace_back(env);
  const std::string cache = weights_cache_dir();
  for (const std::string& directory : weights_search_directories()) {
    if (directory != cache) candidates.push_back(directory + "/vgg19.safetensors");
    candidates.push_back(directory + "/" + kDefaultWeightsFileName);
  }
  return candidates;
}

std::optional<std::string> find_weights(const std::string& explicit_path) {
  std::error_code error;
  if (!explicit_path.empty()) {
    if (!fs::exists(explicit_path, error)) {
      throw WeightsError("cannot read weights file '" + explicit_path + "' (--weights): file not found");
    }
    return explicit_path;
  }
  if (const char* env = std::getenv("STYLIZE_WEIGHTS"); env && *env) {
    if (!fs::exists(env, error)) {
      throw WeightsError(std::string("cannot read weights file '") + env +
                         "' named by STYLIZE_WEIGHTS: file not found");
    }
    // Not passed over for the next candidate: the run would use weights the user did not name.
    if (fs::is_directory(env, error)) {
      throw WeightsError(std::string("STYLIZE_WEIGHTS names '") + env +
                         "', a directory; it names a weights file: give the file inside it (e.g. " +
                         (fs::path(env) / "vgg19.safetensors").string() + ")");
    }
  }
  for (const auto& candidate : default_weights_candidates()) {
    if (fs::is_regular_file(candidate, error)) return candidate;
  }
  return std::nullopt;
}

}  // namespace stylize
