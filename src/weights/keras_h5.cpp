// Reader for Keras HDF5 weight files (model.save_weights() in Keras 1 and 2,
// e.g. vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5), through the HDF5
// C library. The only translation unit that includes hdf5.h. (The C++ API,
// H5Cpp.h, would replace the Handle class below but not the checks and
// messages that make up most of this file, and it reports every failure as one
// exception type, so each call would still need its own translation.)
//
// Layout (keras/engine/saving.py, save_weights_to_hdf5_group):
//   /                        attrs: layer_names (list of strings; may be split into
//                                   layer_names0, layer_names1... when large),
//                                   backend, keras_version (Keras 2 only)
//   /block1_conv1            attr weight_names: the layer's weights, kernel then bias
//   /block1_conv1/<name>     one dataset per weight name; the name may contain '/'
//                            (TF2 Keras: "block1_conv1/kernel:0", a nested group), or
//                            not (Keras 1: "block1_conv1_W_1:0")
//   /block1_pool ...         layers without weights: an empty weight_names
// Kernels are (kh, kw, in, out) and biases (out); a file written by model.save()
// keeps the same layout under /model_weights. Strings may be fixed-length
// (h5py 2) or variable-length (h5py 3).
#include <hdf5.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "internal.hpp"
#include "isolated.hpp"
#include "stylize/errors.hpp"
#include "stylize/vgg19_layers.hpp"
#include "stylize/weights/keras_h5.hpp"

namespace stylize {
namespace {

namespace fs = std::filesystem;

// Most values read from one file: VGG19's 16 convolutions hold 20.0M (the
// largest 2.4M). A small file can declare far more (chunks never written, or
// compressed, take no room on disk): refused before they are allocated.
constexpr hsize_t kMaxElements = hsize_t{1} << 25;

// Owns one HDF5 identifier and closes it with the matching H5?close.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)), close_(other.close_) {}
  Handle& operator=(Handle&& other) noexcept {
    std::swap(id_, other.id_);
    std::swap(close_, other.close_);
    return *this;
  }
  ~Handle() {
    if (id_ >= 0 && close_) close_(id_);
  }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = H5I_INVALID_HID;
  herr_t (*close_)(hid_t) = nullptr;
};

// The HDF5 library prints an error stack to stderr by default; the stylize
// library never prints, so reporting is switched off while a file is read.
class SilenceHdf5Errors {
 public:
  SilenceHdf5Errors() {
    H5Eget_auto2(H5E_DEFAULT, &function_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~SilenceHdf5Errors() { H5Eset_auto2(H5E_DEFAULT, function_, data_); }
  SilenceHdf5Errors(const SilenceHdf5Errors&) = delete;
  SilenceHdf5Errors& operator=(const SilenceHdf5Errors&) = delete;

 private:
  H5E_auto2_t function_ = nullptr;
  void* data_ = nullptr;
};

// "block3_conv2" for "conv3_2".
std::string keras_layer_name(const std::string& conv_name) {
  return "block" + conv_name.substr(4, 1) + "_conv" + conv_name.substr(6);
}

std::string trim_string(std::string text) {
  const auto end = text.find('\0');
  if (end != std::string::npos) text.resize(end);
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

class KerasFile {
 public:
  explicit KerasFile(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw WeightsError("cannot read weights file '" + path_ + "': " + what);
  }

  // Opens the file at path_, or with `image` the file held in memory.
  void open(const std::string* image = nullptr) {
    Handle access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
    if (image) {
      // The core driver reads a copy of the bytes; nothing touches the disk.
      if (!access.valid() || H5Pset_fapl_core(access.get(), 1 << 16, /*backing_store=*/0) < 0 ||
          H5Pset_file_image(access.get(), const_cast<char*>(image->data()), image->size()) < 0) {
        fail("cannot be opened in memory");
      }
    }
    file_ = Handle(H5Fopen(path_.c_str(), H5F_ACC_RDONLY, access.valid() ? access.get() : H5P_DEFAULT), H5Fclose);
    if (!file_.valid()) fail("not a readable HDF5 file (truncated or corrupt?); download it again");
    root_ = Handle(H5Gopen2(file_.get(), "/", H5P_DEFAULT), H5Gclose);
    if (!root_.valid()) fail("cannot open the HDF5 root group; the file is corrupt");
    if (!has_attribute(root_.get(), "layer_names") && !has_attribute(root_.get(), "layer_names0") &&
        link_exists(root_.get(), "model_weights")) {
      // A whole model saved with model.save(): the weights are under /model_weights.
      root_ = Handle(H5Gopen2(file_.get(), "/model_weights", H5P_DEFAULT), H5Gclose);
      if (!root_.valid()) fail("its /model_weights group cannot be opened; the file is corrupt");
      prefix_ = "model_weights/";
    }
    if (!has_attribute(root_.get(), "layer_names") && !has_attribute(root_.get(), "layer_names0")) {
      if (link_exists(root_.get(), "layers") || link_exists(root_.get(), "_layer_checkpoint_dependencies")) {
        fail(
            "it is a Keras 3 '.weights.h5' file, which stylize does not read; use the Keras 2 file "
            "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5, or convert the weights to safetensors");
      }
      fail(
          "it is HDF5 but has no 'layer_names' attribute, so it is not a Keras weights file (expected the "
          "layout of Keras save_weights(), e.g. vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5)");
    }
    layer_names_ = read_string_list(root_.get(), "layer_names", "/");
    for (const char* key : {"keras_version", "backend"}) {
      if (has_attribute(root_.get(), key)) {
        const auto values = read_string_attribute(root_.get(), key, "/");
        if (values.size() == 1) metadata_[std::string("keras.") + key] = values[0];
      }
    }
  }

  ConvWeights read_conv(const std::string& conv_name) {
    const std::string layer = keras_layer_name(conv_name);
    const bool listed = std::find(layer_names_.begin(), layer_names_.end(), layer) != layer_names_.end();
    if (!listed || !link_exists(root_.get(), layer)) {
      fail("it has no layer " + layer + " (VGG19 " + conv_name +
           "); expected the 16 convolutions of a Keras VGG19, block1_conv1 ... block5_conv4. The file is "
           "incomplete or not a VGG19: download it again");
    }
    Handle group(H5Gopen2(root_.get(), layer.c_str(), H5P_DEFAULT), H5Gclose);
    if (!group.valid()) fail(prefix_ + layer + " is not an HDF5 group; the file is corrupt");
    const std::vector<std::string> names = read_string_list(group.get(), "weight_names", layer);
    if (names.size() != 2) {
      fail("layer " + layer + " lists " + std::to_string(names.size()) +
           " weights in its weight_names attribute, expected 2 (kernel and bias)");
    }
    // Kernel and bias are told apart by rank, not by name: the names differ
    // between Keras versions (block1_conv1_W_1:0, block1_conv1/kernel:0).
    struct Tensor {
      std::string path;
      Handle dataset;
      std::vector<hsize_t> dims;
    };
    Tensor tensors[2];
    for (int i = 0; i < 2; ++i) {
      tensors[i].path = prefix_ + layer + "/" + names[i];
      if (!link_exists(group.get(), names[i])) {
        fail("dataset " + tensors[i].path + " named by " + layer +
             "'s weight_names does not exist; the file is incomplete or corrupt");
      }
      tensors[i].dataset = Handle(H5Dopen2(group.get(), names[i].c_str(), H5P_DEFAULT), H5Dclose);
      if (!tensors[i].dataset.valid()) fail(tensors[i].path + " is not a dataset; the file is corrupt");
      tensors[i].dims = dataset_dims(tensors[i].dataset.get(), tensors[i].path);
    }
    if (tensors[0].dims.size() == 1 && tensors[1].dims.size() == 4) std::swap(tensors[0], tensors[1]);
    const Tensor& kernel = tensors[0];
    const Tensor& bias = tensors[1];
    if (kernel.dims.size() != 4 || bias.dims.size() != 1) {
      fail("layer " + layer + " has weights of shapes " + dims_string(tensors[0].dims) + " and " +
           dims_string(tensors[1].dims) + ", expected a kernel (3,3,in,out) and a bias (out)");
    }
    const std::vector<hsize_t> expected = {3, 3, expected_in_, kernel.dims[3]};
    if (kernel.dims != expected) {
      const bool theano = kernel.dims[2] == 3 && kernel.dims[3] == 3 && kernel.dims[0] != 3;
      fail("dataset " + kernel.path + " has shape " + dims_string(kernel.dims) + ", expected " + dims_string(expected) +
           (theano ? " (Theano-ordered kernels are not supported: use the "
                     "tf_dim_ordering_tf_kernels file)"
                   : "; the file is not a VGG19"));
    }
    if (bias.dims[0] != kernel.dims[3]) {
      fail("dataset " + bias.path + " has shape " + dims_string(bias.dims) + ", expected (" +
           std::to_string(kernel.dims[3]) + ") to match its kernel " + kernel.path);
    }
    const std::vector<float> hwio = read_floats(kernel.dataset.get(), kernel.path, kernel.dims);
    ConvWeights conv;
    conv.name = conv_name;
    conv.kernel_h = 3;
    conv.kernel_w = 3;
    conv.in_channels = static_cast<int64_t>(kernel.dims[2]);
    conv.out_channels = static_cast<int64_t>(kernel.dims[3]);
    conv.bias = read_floats(bias.dataset.get(), bias.path, bias.dims);
    // (kh, kw, in, out) -> (out, in, kh, kw)
    const int64_t in = conv.in_channels, out = conv.out_channels;
    conv.weight.resize(hwio.size());
    for (int64_t y = 0; y < 3; ++y) {
      for (int64_t x = 0; x < 3; ++x) {
        for (int64_t i = 0; i < in; ++i) {
          const float* source = hwio.data() + ((y * 3 + x) * in + i) * out;
          for (int64_t o = 0; o < out; ++o) conv.weight[((o * in + i) * 3 + y) * 3 + x] = source[o];
        }
      }
    }
    expected_in_ = kernel.dims[3];
    return conv;
  }

  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  static bool has_attribute(hid_t object, const std::string& name) { return H5Aexists(object, name.c_str()) > 0; }

  // Whether `path` (possibly nested: "block1_conv1/kernel:0") exists under `base`.
  static bool link_exists(hid_t base, const std::string& path) {
    size_t start = 0;
    while (true) {
      const size_t slash = path.find('/', start);
      const std::string prefix = path.substr(0, slash);
      if (prefix.empty() || H5Lexists(base, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
      if (slash == std::string::npos) return true;
      start = slash + 1;
    }
  }

  static std::string dims_string(const std::vector<hsize_t>& dims) {
    std::vector<int64_t> shape(dims.begin(), dims.end());
    return detail::shape_string(shape);
  }

  std::vector<hsize_t> dataset_dims(hid_t dataset, const std::string& where) const {
    Handle space(H5Dget_space(dataset), H5Sclose);
    const int rank = space.valid() ? H5Sget_simple_extent_ndims(space.get()) : -1;
    if (rank < 0 || rank > 8) fail("dataset " + where + " has an unreadable shape; the file is corrupt");
    std::vector<hsize_t> dims(rank);
    if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    return dims;
  }

  std::vector<float> read_floats(hid_t dataset, const std::string& where, const std::vector<hsize_t>& dims) const {
    Handle type(H5Dget_type(dataset), H5Tclose);
    if (!type.valid() || H5Tget_class(type.get()) != H5T_FLOAT) {
      fail("dataset " + where + " does not hold floating-point numbers");
    }
    hsize_t count = 1;
    for (hsize_t d : dims) {
      if (d != 0 && count > kMaxElements / d) fail("dataset " + where + " is too large to be a VGG19 weight");
      count *= d;
    }
    if (count > kMaxElements - elements_read_) {
      fail("dataset " + where + " takes the file's weights past " + std::to_string(kMaxElements) +
           " values, where VGG19 has 20.0M; the file is not a VGG19");
    }
    elements_read_ += count;
    std::vector<float> values(count);
    if (count > 0 && H5Dread(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0) {
      fail("dataset " + where + " cannot be read (truncated file or unsupported compression); download it again");
    }
    return values;
  }

  // A string-list attribute, joined over its chunks (name0, name1, ...) when
  // Keras had to split it to fit the HDF5 object header.
  std::vector<std::string> read_string_list(hid_t object, const std::string& name, const std::string& where) const {
    if (has_attribute(object, name)) return read_string_attribute(object, name, where);
    std::vector<std::string> values;
    for (int chunk = 0; has_attribute(object, name + std::to_string(chunk)); ++chunk) {
      const auto part = read_string_attribute(object, name + std::to_string(chunk), where);
      values.insert(values.end(), part.begin(), part.end());
    }
    if (values.empty()) fail(where + " has no '" + name + "' attribute; the file is not a Keras weights file");
    return values;
  }

  // Reads a scalar or 1-D string attribute (fixed or variable length). An empty
  // non-string array (what h5py writes for an empty list) reads as no strings.
  std::vector<std::string> read_string_attribute(hid_t object, const std::string& name,
                                                 const std::string& where) const {
    const std::string what = "attribute '" + name + "' of " + (where.empty() ? "/" : where);
    Handle attribute(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose);
    if (!attribute.valid()) fail(what + " cannot be opened; the file is corrupt");
    Handle type(H5Aget_type(attribute.get()), H5Tclose);
    Handle space(H5Aget_space(attribute.get()), H5Sclose);
    if (!type.valid() || !space.valid()) fail(what + " cannot be read; the file is corrupt");
    const hssize_t points = H5Sget_simple_extent_npoints(space.get());
    if (points < 0 || points > 100000) fail(what + " has an unreadable size; the file is corrupt");
    const auto count = static_cast<size_t>(points);
    if (H5Tget_class(type.get()) != H5T_STRING) {
      if (count == 0) return {};
      fail(what + " is not a list of strings");
    }
    std::vector<std::string> values;
    if (count == 0) return values;
    const htri_t variable = H5Tis_variable_str(type.get());
    if (variable < 0) fail(what + " has an unreadable string type; the file is corrupt");
    Handle memory_type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_cset(memory_type.get(), H5Tget_cset(type.get()));
    if (variable > 0) {
      H5Tset_size(memory_type.get(), H5T_VARIABLE);
      std::vector<char*> buffer(count, nullptr);
      if (H5Aread(attribute.get(), memory_type.get(), buffer.data()) < 0) fail(what + " cannot be read");
      for (char* text : buffer) values.push_back(trim_string(text ? text : ""));
#if H5_VERSION_GE(1, 12, 0)
      H5Treclaim(memory_type.get(), space.get(), H5P_DEFAULT, buffer.data());
#else
      H5Dvlen_reclaim(memory_type.get(), space.get(), H5P_DEFAULT, buffer.data());
#endif
    } else {
      const size_t width = H5Tget_size(type.get());
      if (width == 0 || width > 4096) fail(what + " has an unusable string width");
      H5Tset_size(memory_type.get(), width);
      H5Tset_strpad(memory_type.get(), H5T_STR_NULLPAD);
      std::string buffer(count * width, '\0');
      if (H5Aread(attribute.get(), memory_type.get(), buffer.data()) < 0) fail(what + " cannot be read");
      for (size_t i = 0; i < count; ++i) values.push_back(trim_string(buffer.substr(i * width, width)));
    }
    return values;
  }

  std::string path_;
  std::string prefix_;  // "model_weights/" for whole-model files
  Handle file_;
  Handle root_;
  std::vector<std::string> layer_names_;
  std::map<std::string, std::string> metadata_;
  hsize_t expected_in_ = 3;
  mutable hsize_t elements_read_ = 0;  // by read_floats, over the file
};

VggWeights read_keras(const std::string& path, const std::string* image, int num_convs) {
  if (num_convs < 1 || num_convs > 16) throw WeightsError("a VGG19 has 1 to 16 convolutions");
  // In a child process (isolated.hpp): libhdf5 can crash or hang on a corrupt
  // file. Reading takes well under a second per megabyte.
  std::error_code error;
  const double megabytes = static_cast<double>(image ? image->size() : fs::file_size(path, error)) / 1e6;
  return detail::read_in_child(path, 5 + (error ? 0 : megabytes), [&] {
    SilenceHdf5Errors silence;
    KerasFile file(path);
    file.open(image);
    VggWeights weights;
    weights.path = path;
    weights.format = "keras-hdf5";
    weights.convention = InputConvention::caffe();
    weights.metadata = file.metadata();
    for (int i = 0; i < num_convs; ++i) weights.convs.push_back(file.read_conv(vgg19_conv_names()[i]));
    detail::check_shapes(path, weights.convs);
    return weights;
  });
}

}  // namespace

VggWeights read_vgg19_keras_hdf5(const std::string& path, int num_convs) {
  return read_keras(path, nullptr, num_convs);
}

VggWeights read_vgg19_keras_hdf5_bytes(const std::string& bytes, const std::string& display_name, int num_convs) {
  if (bytes.empty()) throw WeightsError("cannot read weights file '" + display_name + "': the file is empty");
  return read_keras(display_name, &bytes, num_convs);
}

}  // namespace stylize
