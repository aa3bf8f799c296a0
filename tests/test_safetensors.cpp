#include <gtest/gtest.h>

#include <cstring>

#include "stylize/errors.hpp"
#include "stylize/weights/safetensors.hpp"
#include "stylize/weights/weights.hpp"
#include "test_util.hpp"
#include "weights/internal.hpp"

namespace stylize {
namespace {

using test::fixture;

// Builds a safetensors file from a JSON header and a data section.
std::string make_file(const std::string& header, const std::string& data) {
  std::string bytes(8, '\0');
  uint64_t length = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  return bytes + header + data;
}

void expect_error(const std::string& bytes, const std::string& needle) {
  try {
    SafetensorsReader::from_bytes(bytes, "bad.safetensors");
    FAIL() << "expected a WeightsError mentioning '" << needle << "'";
  } catch (const WeightsError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad.safetensors"), std::string::npos) << e.what();
  }
}

TEST(Safetensors, ReadsEveryFloatDtype) {
  const SafetensorsReader reader = SafetensorsReader::open(fixture("dtypes.safetensors"));
  const std::vector<float> expected = {0.0f, 1.0f, -2.5f, 0.333251953125f, 65504.0f, -1e-4f, 3.140625f, 1e-7f};
  for (const std::string name : {"f32", "f16", "bf16", "f64"}) {
    ASSERT_TRUE(reader.contains(name));
    EXPECT_EQ(reader.tensors().at(name).shape, (std::vector<int64_t>{2, 4}));
    const std::vector<float> values = reader.read_floats(name);
    ASSERT_EQ(values.size(), expected.size());
    // Tolerance of each dtype's rounding (fp16 subnormals step by 6e-8).
    const float relative = name == "bf16" ? 4e-3f : name == "f16" ? 1e-3f : 0.0f;
    for (size_t i = 0; i < values.size(); ++i) {
      EXPECT_NEAR(values[i], expected[i], relative * std::abs(expected[i]) + (name == "f16" ? 6e-8f : 0.0f))
          << name << "[" << i << "]";
    }
  }
  EXPECT_EQ(reader.tensors().at("f16").dtype, "F16");
}

TEST(Safetensors, ReadsMetadata) {
  const std::string file =
      make_file(R"({"__metadata__":{"format":"pt"},"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                std::string("\0\0\x80\x3f", 4));
  const SafetensorsReader reader = SafetensorsReader::from_bytes(file, "m.safetensors");
  EXPECT_EQ(reader.metadata().at("format"), "pt");
  EXPECT_EQ(reader.read_floats("x"), std::vector<float>{1.0f});
}

TEST(Safetensors, RejectsMalformedFiles) {
  const std::string four_bytes("\0\0\0\0", 4);
  expect_error("abc", "only 3 bytes");
  expect_error(std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{}", "header length");
  expect_error(make_file("{not json", ""), "not a JSON object");
  expect_error(make_file("[1,2]", ""), "not a JSON object");
  expect_error(make_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", four_bytes), "past the end");
  expect_error(make_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", four_bytes), "need 8");
  expect_error(make_file(R"({"x":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}})", four_bytes), "unknown dtype");
  expect_error(make_file(R"({"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", four_bytes), "negative");
  expect_error(make_file(R"({"x":{"dtype":"F32","shape":[1]}})", four_bytes), "data_offsets");
  expect_error(make_file(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", four_bytes), "past the end");
  expect_error(
      make_file(
          R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
          four_bytes + four_bytes),
      "share bytes");
  expect_error(make_file(R"({"__metadata__":{"a":1}})", ""), "must be a string");
  expect_error(
      make_file(R"({"x":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}})", four_bytes),
      "too large");
}

TEST(Safetensors, RejectsHostileHeadersWithoutCrashing) {
  const std::string four_bytes("\0\0\0\0", 4);
  // A zero dimension used to hide absurd dimensions after it (read back as -1).
  expect_error(make_file(R"({"x":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}})", ""),
               "too large");
  expect_error(make_file(R"({"x":{"dtype":"F32","shape":[0,2305843009213693952,8],"data_offsets":[0,0]}})", ""),
               "too large");
  // A deeply nested dtype used to be printed in the error, recursively, until
  // the stack overflowed.
  const std::string nested = std::string(200000, '[') + std::string(200000, ']');
  expect_error(make_file(R"({"x":{"dtype":)" + nested + R"(,"shape":[1],"data_offsets":[0,4]}})", four_bytes),
               "not a string");
  // An unknown dtype is named, but not at any length.
  expect_error(make_file(R"({"x":{"dtype":")" + std::string(100000, 'Q') + R"(","shape":[1],"data_offsets":[0,4]}})",
                         four_bytes),
               "unknown dtype \"QQQQ");
  // Empty tensors are fine.
  const SafetensorsReader reader = SafetensorsReader::from_bytes(
      make_file(R"({"e":{"dtype":"F32","shape":[3,0,5],"data_offsets":[0,0]}})", ""), "e.safetensors");
  EXPECT_EQ(reader.tensors().at("e").numel(), 0);
  EXPECT_TRUE(reader.read_floats("e").empty());
}

TEST(Safetensors, RejectsATruncatedFile) {
  const std::string bytes = test::read_file(fixture("vgg19_tiny.safetensors"));
  ASSERT_GT(bytes.size(), 1000u);
  expect_error(bytes.substr(0, bytes.size() - 100), "truncated");
  expect_error(bytes.substr(0, 20), "header length");
}

TEST(Safetensors, RefusesUnsupportedTensorDtypes) {
  const SafetensorsReader reader = SafetensorsReader::from_bytes(
      make_file(R"({"i":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0')), "i.safetensors");
  EXPECT_THROW(reader.read_floats("i"), WeightsError);
  EXPECT_THROW(reader.read_floats("missing"), WeightsError);
}

TEST(VggWeights, ReadsTorchvisionLayoutWithWidthsFromTheFile) {
  const VggWeights weights = load_vgg19_weights(fixture("vgg19_tiny.safetensors"));
  ASSERT_EQ(weights.convs.size(), 16u);
  EXPECT_EQ(weights.format, "safetensors");
  EXPECT_EQ(weights.convention.name, "torchvision");
  EXPECT_EQ(weights.convs[0].name, "conv1_1");
  EXPECT_EQ(weights.convs[0].in_channels, 3);
  EXPECT_EQ(weights.convs[0].out_channels, 4);
  EXPECT_EQ(weights.convs[2].in_channels, 4);
  EXPECT_EQ(weights.convs[2].out_channels, 6);
  EXPECT_EQ(weights.convs[15].name, "conv5_4");
  EXPECT_EQ(weights.convs[15].weight.size(), 8u * 8 * 3 * 3);
  EXPECT_EQ(weights.convs[15].bias.size(), 8u);
}

TEST(VggWeights, ReadsOnlyTheConvolutionsAskedFor) {
  EXPECT_EQ(load_vgg19_weights(fixture("vgg19_tiny.safetensors"), 3).convs.size(), 3u);
}

class WeightsFileTest : public ::testing::Test {
 protected:
  // The tiny fixture with its JSON header edited by `edit`.
  std::string edited(const std::function<void(std::string&)>& edit) {
    std::string bytes = test::read_file(fixture("vgg19_tiny.safetensors"));
    uint64_t length = 0;
    for (int i = 7; i >= 0; --i) length = (length << 8) | static_cast<unsigned char>(bytes[i]);
    std::string header = bytes.substr(8, length);
    edit(header);
    // Data offsets are relative to the data section, so only the length changes.
    const std::string path = dir.file("edited.safetensors");
    test::write_file(path, make_file(header, bytes.substr(8 + length)));
    return path;
  }
  test::TempDir dir;
};

TEST_F(WeightsFileTest, MissingLayerIsNamed) {
  const std::string path =
      edited([](std::string& h) { h.replace(h.find("features.28.weight"), 18, "features.99.weight"); });
  try {
    load_vgg19_weights(path);
    FAIL() << "expected WeightsError";
  } catch (const WeightsError& e) {
    EXPECT_NE(std::string(e.what()).find("features.28.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("conv5_1"), std::string::npos) << e.what();
  }
  // The layers before the missing one are still usable.
  EXPECT_EQ(load_vgg19_weights(path, 12).convs.size(), 12u);
}

TEST_F(WeightsFileTest, ConventionComesFromMetadata) {
  std::string path = edited(
      [](std::string& h) { h.replace(h.find("\"format\":\"pt\""), 13, "\"stylize.input_convention\":\"caffe\""); });
  const VggWeights weights = load_vgg19_weights(path, 1);
  EXPECT_EQ(weights.convention.name, "caffe");
  EXPECT_TRUE(weights.convention.bgr);
  EXPECT_FLOAT_EQ(weights.convention.scale, 255.0f);
  path = edited(
      [](std::string& h) { h.replace(h.find("\"format\":\"pt\""), 13, "\"stylize.input_convention\":\"rgb\""); });
  EXPECT_THROW(load_vgg19_weights(path, 1), WeightsError);
}

TEST_F(WeightsFileTest, RejectsNonFiniteAndMisshapenWeights) {
  // NaN values in conv1_1's weight.
  std::string bytes = test::read_file(fixture("vgg19_tiny.safetensors"));
  const SafetensorsReader reader = SafetensorsReader::open(fixture("vgg19_tiny.safetensors"));
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | static_cast<unsigned char>(bytes[i]);
  const uint64_t at = 8 + length + reader.tensors().at("features.0.weight").begin;
  const char nan_bits[4] = {0, 0, static_cast<char>(0xc0), 0x7f};
  bytes.replace(at, 4, nan_bits, 4);
  test::write_file(dir.file("nan.safetensors"), bytes);
  EXPECT_THROW(load_vgg19_weights(dir.file("nan.safetensors")), WeightsError);

  // conv1_2 claiming 3 input channels while conv1_1 gives 4: same byte count, wrong chain.
  const std::string path = edited([](std::string& h) {
    const auto key = h.find("\"features.2.weight\"");
    const auto shape = h.find("[4,4,3,3]", key);
    h.replace(shape, 9, "[4,3,4,3]");
  });
  EXPECT_THROW(load_vgg19_weights(path), WeightsError);

  // A convolution with no output channels (any format): refused as no VGG19,
  // not left to fail inside LibTorch.
  ConvWeights none;
  none.name = "conv1_1";
  none.in_channels = 3;
  none.kernel_h = none.kernel_w = 3;
  const std::string message =
      test::error_message<WeightsError>([&] { detail::check_shapes("zero.safetensors", {none}); }, "(accepted)");
  EXPECT_NE(message.find("conv1_1 has no output channels; the file is not a VGG19"), std::string::npos) << message;
}

TEST(VggWeights, ExplainsMissingAndForeignFiles) {
  test::TempDir dir;
  EXPECT_THROW(load_vgg19_weights(dir.file("nope.safetensors")), WeightsError);
  test::write_file(dir.file("text.safetensors"), "this is not a weights file at all");
  EXPECT_THROW(load_vgg19_weights(dir.file("text.safetensors")), WeightsError);
  test::write_file(dir.file("keras.h5"), std::string("\x89HDF\r\n\x1a\n", 8) + std::string(100, '\0'));
  EXPECT_THROW(load_vgg19_weights(dir.file("keras.h5")), WeightsError);
  try {
    load_vgg19_weights(dir.file("missing.safetensors"));
    FAIL();
  } catch (const WeightsError& e) {
    EXPECT_NE(std::string(e.what()).find("file not found"), std::string::npos);
  }
  // Zip archives by what they hold (a member's name is in its local header);
  // MATLAB v7.3 (HDF5 after MATLAB's own 512-byte header) as MATLAB.
  const auto zip_with = [](const std::string& member) {
    std::string bytes("PK\x03\x04", 4);
    bytes += std::string(22, '\0') + static_cast<char>(member.size()) + std::string(3, '\0') + member;
    return bytes + std::string(64, '\0');
  };
  const auto said = [&](const std::string& name, const std::string& bytes) {
    test::write_file(dir.file(name), bytes);
    return test::error_message<WeightsError>([&] { load_vgg19_weights(dir.file(name)); }, "(read)");
  };
  EXPECT_NE(said("vgg19.pth", zip_with("archive/data.pkl")).find("is a PyTorch checkpoint (.pth)"), std::string::npos);
  const std::string keras3 = said("vgg19.keras", zip_with("model.weights.h5"));
  EXPECT_NE(
      keras3.find("is a Keras 3 model archive (.keras), which stylize does not read; use the Keras 2 weights file "
                  "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"),
      std::string::npos)
      << keras3;
  EXPECT_NE(said("other.zip", zip_with("photo.jpg")).find("is a zip archive but neither"), std::string::npos);
  std::string matlab = "MATLAB 7.3 MAT-file, Platform: GLNXA64";
  matlab += std::string(512 - matlab.size(), ' ') + std::string("\x89HDF\r\n\x1a\n", 8) + std::string(100, '\0');
  const std::string v73 = said("vgg.mat", matlab);
  EXPECT_NE(v73.find("is a MATLAB (MatConvNet) file"), std::string::npos) << v73;
}

}  // namespace
}  // namespace stylize
