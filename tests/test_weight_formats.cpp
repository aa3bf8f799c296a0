// Weight files from other tools: the native Keras HDF5 reader, the files
// scripts/convert_weights.py makes from torchvision, Caffe and MatConvNet
// weights, and parity of the features stylize computes from each with those an
// independent PyTorch implementation computed from the original file
// (tests/fixtures/weights_golden_features.safetensors, scripts/make_weight_fixtures.py).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "stylize/core/vgg19.hpp"
#include "stylize/errors.hpp"
#include "stylize/weights/keras_h5.hpp"
#include "stylize/weights/safetensors.hpp"
#include "stylize/weights/weights.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

using test::fixture;

const std::vector<std::string> kGoldenLayers = {"relu1_1", "relu3_1", "relu5_1"};

std::string error_of(const std::function<void()>& action) {
  return test::error_message<WeightsError>(action, "(no WeightsError)");
}

TEST(KerasHdf5, ReadsKeras1AndTf2Layouts) {
  // Keras 1: flat dataset names (block1_conv1_W_1:0), fixed-length strings.
  const VggWeights weights = load_vgg19_weights(fixture("keras_vgg19_notop_tiny.h5"));
  EXPECT_EQ(weights.format, "keras-hdf5");
  EXPECT_EQ(weights.convention.name, "caffe");
  EXPECT_TRUE(weights.convention.bgr);
  ASSERT_EQ(weights.convs.size(), 16u);
  EXPECT_EQ(weights.convs[0].name, "conv1_1");
  EXPECT_EQ(weights.convs[0].in_channels, 3);
  EXPECT_EQ(weights.convs[0].out_channels, 4);
  EXPECT_EQ(weights.convs[2].in_channels, 4);
  EXPECT_EQ(weights.convs[2].out_channels, 6);
  EXPECT_EQ(weights.convs[15].name, "conv5_4");
  EXPECT_EQ(weights.convs[15].weight.size(), 8u * 8 * 3 * 3);
  EXPECT_EQ(weights.convs[15].bias.size(), 8u);
  EXPECT_EQ(read_vgg19_keras_hdf5(fixture("keras_vgg19_notop_tiny.h5"), 2).convs.size(), 2u);

  // TF2 Keras: nested dataset names (block1_conv1/kernel:0), variable-length strings.
  const VggWeights& keras1 = weights;
  const VggWeights keras2 = load_vgg19_weights(fixture("keras2_vgg19_notop_tiny.h5"));
  EXPECT_EQ(keras2.metadata.at("keras.keras_version"), "2.9.0");
  EXPECT_EQ(keras2.metadata.at("keras.backend"), "tensorflow");
  // Both fixtures hold the same weights under the two naming styles.
  ASSERT_EQ(keras2.convs.size(), keras1.convs.size());
  for (size_t i = 0; i < keras1.convs.size(); ++i) {
    EXPECT_EQ(keras2.convs[i].weight, keras1.convs[i].weight) << keras1.convs[i].name;
    EXPECT_EQ(keras2.convs[i].bias, keras1.convs[i].bias) << keras1.convs[i].name;
  }
}

TEST(KerasHdf5, ErrorsNameTheFileTheLayerAndTheShapes) {
  // A missing layer is named, with the file.
  const std::string missing = fixture("keras_vgg19_missing_layer_tiny.h5");
  std::string message = error_of([&] { load_vgg19_weights(missing); });
  EXPECT_NE(message.find("block4_conv2"), std::string::npos) << message;
  EXPECT_NE(message.find("conv4_2"), std::string::npos) << message;
  EXPECT_NE(message.find(missing), std::string::npos) << message;
  // The layers before the missing one are still usable.
  EXPECT_EQ(load_vgg19_weights(missing, 9).convs.size(), 9u);

  // A wrong shape: what was found and what was expected.
  const std::string bad = fixture("keras_vgg19_bad_shape_tiny.h5");
  message = error_of([&] { load_vgg19_weights(bad); });
  EXPECT_NE(message.find("cannot read weights file '" + bad + "'"), std::string::npos) << message;
  EXPECT_NE(message.find("block3_conv1/block3_conv1_W_1:0 has shape (3,3,4,8), expected (3,3,6,8)"), std::string::npos)
      << message;
  EXPECT_EQ(load_vgg19_weights(bad, 4).convs.size(), 4u);

  // HDF5 that is not Keras weights.
  const std::string other = fixture("hdf5_not_keras.h5");
  message = error_of([&] { load_vgg19_weights(other); });
  EXPECT_NE(message.find("layer_names"), std::string::npos) << message;
  EXPECT_NE(message.find(other), std::string::npos) << message;

  // A few KB declaring 40M values (chunks never written): refused before
  // they are allocated, at the value that passes VGG19's 20.0M by far.
  const std::string huge = fixture("keras_vgg19_declared_huge.h5");
  message = error_of([&] { load_vgg19_weights(huge); });
  EXPECT_NE(message.find("dataset block1_conv2/block1_conv2_W_1:0 takes the file's weights past 33554432 values, "
                         "where VGG19 has 20.0M; the file is not a VGG19"),
            std::string::npos)
      << message;

  // Damaged files.
  test::TempDir dir;
  const std::string bytes = test::read_file(fixture("keras_vgg19_notop_tiny.h5"));
  for (const size_t keep : {bytes.size() / 2, bytes.size() - 600, size_t{600}}) {
    const std::string path = dir.file("truncated.h5");
    test::write_file(path, bytes.substr(0, keep));
    message = error_of([&] { load_vgg19_weights(path); });
    EXPECT_NE(message.find(path), std::string::npos) << keep << ": " << message;
  }
}

TEST(KerasHdf5, ReadsAFileHeldInMemoryAsItReadsTheFile) {
  for (const std::string name : {"keras_vgg19_notop_tiny.h5", "keras2_vgg19_notop_tiny.h5"}) {
    const VggWeights from_file = read_vgg19_keras_hdf5(fixture(name));
    const VggWeights from_bytes = read_vgg19_keras_hdf5_bytes(test::read_file(fixture(name)), name);
    EXPECT_EQ(from_bytes.path, name);
    EXPECT_EQ(from_bytes.metadata, from_file.metadata);
    ASSERT_EQ(from_bytes.convs.size(), from_file.convs.size());
    for (size_t i = 0; i < from_file.convs.size(); ++i) {
      EXPECT_EQ(from_bytes.convs[i].weight, from_file.convs[i].weight) << name << " " << i;
    }
  }
  const std::string bytes = test::read_file(fixture("keras_vgg19_notop_tiny.h5"));
  for (const std::string& damaged :
       {bytes.substr(0, bytes.size() / 2), std::string("\x89HDF\r\n\x1a\n", 8), std::string()}) {
    const std::string message = error_of([&] { read_vgg19_keras_hdf5_bytes(damaged, "memory.h5"); });
    EXPECT_NE(message.find("cannot read weights file 'memory.h5'"), std::string::npos) << message;
  }
  EXPECT_NE(error_of([&] {
              read_vgg19_keras_hdf5_bytes(test::read_file(fixture("hdf5_not_keras.h5")), "x.h5");
            }).find("layer_names"),
            std::string::npos);
}

TEST(KerasHdf5, FilesThatCrashOrHangTheHdf5LibraryAreCorruptFiles) {
  // Found by fuzz_keras_h5: libhdf5 crashes on the first and loops forever on
  // the second. Read in a child process, each is a WeightsError.
  const std::string regressions = std::string(STYLIZE_FUZZ_REGRESSIONS_DIR) + "/fuzz_keras_h5/";
  for (const std::string name : {"global_heap_segv.h5", "global_heap_endless_loop.h5"}) {
    const std::string path = regressions + name;
    const std::string message = error_of([&] { load_vgg19_weights(path); });
    EXPECT_NE(message.find("cannot read weights file '" + path + "'"), std::string::npos) << message;
    EXPECT_NE(message.find("the file is corrupt"), std::string::npos) << message;
  }
  // What the child reads comes back whole, metadata included.
  const VggWeights weights = load_vgg19_weights(fixture("keras2_vgg19_notop_tiny.h5"), 3);
  EXPECT_EQ(weights.metadata.at("keras.backend"), "tensorflow");
  EXPECT_EQ(weights.convention.name, "caffe");
  ASSERT_EQ(weights.convs.size(), 3u);
  EXPECT_EQ(weights.convs[2].name, "conv2_1");
  EXPECT_EQ(weights.convs[2].weight.size(), static_cast<size_t>(weights.convs[2].out_channels * 4 * 9));
}

TEST(WeightFormats, ConvertedFilesDeclareTheirConventionOriginalsAskToBeConverted) {
  EXPECT_EQ(load_vgg19_weights(fixture("vgg19_torchvision_tiny.converted.safetensors"), 1).convention.name,
            "torchvision");
  EXPECT_EQ(load_vgg19_weights(fixture("vgg19_caffe_tiny.converted.safetensors"), 1).convention.name, "caffe");
  EXPECT_EQ(load_vgg19_weights(fixture("vgg19_matconvnet_tiny.converted.safetensors"), 1).convention.name, "caffe");
  for (const std::string name : {"vgg19_torchvision_tiny.pth", "vgg19_torchvision_tiny_legacy.pth",
                                 "vgg19_caffe_tiny.pth", "imagenet-vgg-verydeep-19_tiny.mat"}) {
    const std::string message = error_of([&] { load_vgg19_weights(fixture(name)); });
    EXPECT_NE(message.find("convert_weights.py"), std::string::npos) << name << ": " << message;
  }
}

// The features stylize computes from `weights_file` (convention applied) match
// those the reference computed from the original-format file `source`.
void expect_golden_features(const std::string& weights_file, const std::string& source) {
  SCOPED_TRACE(weights_file);
  const SafetensorsReader golden = SafetensorsReader::open(fixture("weights_golden_features.safetensors"));
  const std::vector<float> pixels = golden.read_floats("image");
  const auto& shape = golden.tensors().at("image").shape;
  const torch::Tensor image = torch::from_blob(const_cast<float*>(pixels.data()), shape).clone();

  const VggWeights weights = load_vgg19_weights(fixture(weights_file), convs_needed(kGoldenLayers));
  Vgg19Features network(weights, kGoldenLayers);
  network.configure(torch::kCPU, torch::kFloat32, false);
  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> features = network.forward(image);
  ASSERT_EQ(features.size(), kGoldenLayers.size());
  for (size_t i = 0; i < kGoldenLayers.size(); ++i) {
    const std::string key = source + "." + kGoldenLayers[i];
    const std::vector<float> values = golden.read_floats(key);
    const torch::Tensor expected =
        torch::from_blob(const_cast<float*>(values.data()), golden.tensors().at(key).shape).clone();
    const torch::Tensor actual = features[i].contiguous().to(torch::kFloat32);
    ASSERT_EQ(actual.sizes(), expected.sizes()) << key;
    const double scale = expected.abs().max().item<double>();
    ASSERT_GT(scale, 0.0) << key << " is all zero: the fixture would prove nothing";
    const double error = (actual - expected).abs().max().item<double>();
    // float32 convolutions against a float64 reference: relative 1e-4 of the
    // layer's largest activation. A wrong convention, channel order or kernel
    // transposition is off by tens of percent.
    EXPECT_LE(error, 1e-4 * scale) << key << ": largest difference " << error << ", largest value " << scale;
  }
}

TEST(FeatureParity, EveryFormatMatchesThePyTorchReferenceOfTheOriginalFile) {
  expect_golden_features("keras_vgg19_notop_tiny.h5", "keras");    // Keras 1 layout, read natively
  expect_golden_features("keras2_vgg19_notop_tiny.h5", "keras2");  // TF2 Keras layout, read natively
  expect_golden_features("vgg19_torchvision_tiny.converted.safetensors", "torchvision");
  expect_golden_features("vgg19_caffe_tiny.converted.safetensors", "caffe");
  expect_golden_features("vgg19_matconvnet_tiny.converted.safetensors", "matconvnet");

  // The comparison can tell conventions apart: the same Keras weights read as
  // if they took torchvision input are far off.
  VggWeights weights = load_vgg19_weights(fixture("keras_vgg19_notop_tiny.h5"), 1);
  weights.convention = InputConvention::torchvision();
  const SafetensorsReader golden = SafetensorsReader::open(fixture("weights_golden_features.safetensors"));
  const std::vector<float> pixels = golden.read_floats("image");
  const torch::Tensor image =
      torch::from_blob(const_cast<float*>(pixels.data()), golden.tensors().at("image").shape).clone();
  Vgg19Features network(weights, {"relu1_1"});
  torch::NoGradGuard no_grad;
  const torch::Tensor actual = network.forward(image)[0].contiguous();
  const std::vector<float> values = golden.read_floats("keras.relu1_1");
  const torch::Tensor expected =
      torch::from_blob(const_cast<float*>(values.data()), golden.tensors().at("keras.relu1_1").shape).clone();
  EXPECT_GT((actual - expected).abs().max().item<double>(), 0.1 * expected.abs().max().item<double>());
}

}  // namespace
}  // namespace stylize
