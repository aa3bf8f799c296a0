// scripts/convert_weights.py run live on the original-format fixtures: the
// files it writes now must hold the same tensors and convention as the
// committed converted fixtures (whose features tests/test_weight_formats.cpp
// checks against the PyTorch reference). Each test is skipped, saying why, when
// the Python module its input needs (torch, scipy, h5py) is not installed for
// STYLIZE_TEST_PYTHON (Debian: python3-torch, python3-scipy, python3-h5py).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "stylize/weights/safetensors.hpp"
#include "stylize/weights/weights.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

namespace fs = std::filesystem;
using test::fixture;

bool python_has(const std::string& module) {
  const std::string command = std::string(STYLIZE_TEST_PYTHON) +
                              " -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec(\"" + module +
                              "\") is None)'";
  return test::run_command(command).exit_code == 0;
}

#define REQUIRE_PYTHON_MODULE(module)                                                                                  \
  if (!python_has(module)) {                                                                                           \
    STYLIZE_SKIP_UNLESS_REQUIRED(STYLIZE_TEST_PYTHON << " has no '" << module << "' module; install Debian's python3-" \
                                                     << module << " to run this converter test");                      \
  }

test::CommandResult convert(const std::string& input, const std::string& output, const std::string& extra = "") {
  return test::run_command(std::string(STYLIZE_TEST_PYTHON) + " " + STYLIZE_SCRIPTS_DIR + "/convert_weights.py '" +
                           input + "' '" + output + "' " + extra);
}

// Same tensors (bit for bit) and the same input convention.
void expect_same_weights(const std::string& actual_path, const std::string& expected_path) {
  SCOPED_TRACE(actual_path);
  const SafetensorsReader actual = SafetensorsReader::open(actual_path);
  const SafetensorsReader expected = SafetensorsReader::open(expected_path);
  EXPECT_EQ(actual.metadata().at("stylize.input_convention"), expected.metadata().at("stylize.input_convention"));
  ASSERT_EQ(actual.tensors().size(), 32u);
  ASSERT_EQ(expected.tensors().size(), 32u);
  for (const auto& [name, info] : expected.tensors()) {
    ASSERT_TRUE(actual.contains(name)) << name;
    EXPECT_EQ(actual.tensors().at(name).shape, info.shape) << name;
    EXPECT_EQ(actual.read_floats(name), expected.read_floats(name)) << name;
  }
}

class Converter : public ::testing::Test {
 protected:
  test::TempDir dir;
};

TEST_F(Converter, TorchvisionCheckpointInZipAndLegacySerialization) {
  REQUIRE_PYTHON_MODULE("torch");
  for (const std::string name : {"vgg19_torchvision_tiny.pth", "vgg19_torchvision_tiny_legacy.pth"}) {
    const std::string output = dir.file(name + ".safetensors");
    const test::CommandResult r = convert(fixture(name), output, "--convention torchvision");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    expect_same_weights(output, fixture("vgg19_torchvision_tiny.converted.safetensors"));
    EXPECT_EQ(load_vgg19_weights(output).convention.name, "torchvision");
  }
}

TEST_F(Converter, PyTorchConventionFromNameOrAsked) {
  REQUIRE_PYTHON_MODULE("torch");
  // Without --convention, an unknown checkpoint is refused with a message saying what to pass.
  const test::CommandResult refused = convert(fixture("vgg19_torchvision_tiny.pth"), dir.file("x.safetensors"));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("--convention"), std::string::npos) << refused.output;
  EXPECT_FALSE(fs::exists(dir.file("x.safetensors")));
  // neural-style-pt keeps the torch hub name of the Caffe weights: vgg19-d01eb7cb.pth.
  fs::copy_file(fixture("vgg19_torchvision_tiny.pth"), dir.file("vgg19-d01eb7cb.pth"));
  const test::CommandResult by_name = convert(dir.file("vgg19-d01eb7cb.pth"), dir.file("y.safetensors"));
  ASSERT_EQ(by_name.exit_code, 0) << by_name.output;
  EXPECT_EQ(load_vgg19_weights(dir.file("y.safetensors"), 1).convention.name, "caffe");
}

TEST_F(Converter, CaffeCheckpointIsRecognized) {
  REQUIRE_PYTHON_MODULE("torch");
  const std::string output = dir.file("caffe.safetensors");
  const test::CommandResult r = convert(fixture("vgg19_caffe_tiny.pth"), output);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("caffe input convention"), std::string::npos) << r.output;
  expect_same_weights(output, fixture("vgg19_caffe_tiny.converted.safetensors"));
}

TEST_F(Converter, MatConvNetNewAndOldLayouts) {
  REQUIRE_PYTHON_MODULE("scipy");
  for (const std::string name : {"imagenet-vgg-verydeep-19_tiny.mat", "imagenet-vgg-verydeep-19_old_tiny.mat"}) {
    const std::string output = dir.file(name + ".safetensors");
    const test::CommandResult r = convert(fixture(name), output);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    expect_same_weights(output, fixture("vgg19_matconvnet_tiny.converted.safetensors"));
  }
}

TEST_F(Converter, KerasHdf5MatchesTheNativeReader) {
  REQUIRE_PYTHON_MODULE("h5py");
  for (const std::string name : {"keras_vgg19_notop_tiny.h5", "keras2_vgg19_notop_tiny.h5"}) {
    const std::string output = dir.file(name + ".safetensors");
    const test::CommandResult r = convert(fixture(name), output);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const VggWeights converted = load_vgg19_weights(output);
    const VggWeights native = load_vgg19_weights(fixture(name));
    EXPECT_EQ(converted.convention.name, "caffe");
    ASSERT_EQ(converted.convs.size(), native.convs.size());
    for (size_t i = 0; i < native.convs.size(); ++i) {
      EXPECT_EQ(converted.convs[i].weight, native.convs[i].weight) << name << " " << native.convs[i].name;
      EXPECT_EQ(converted.convs[i].bias, native.convs[i].bias) << name << " " << native.convs[i].name;
    }
  }
}

TEST_F(Converter, RefusesFilesThatAreNotVgg19Weights) {
  REQUIRE_PYTHON_MODULE("numpy");
  test::write_file(dir.file("notes.txt"), "not weights");
  const test::CommandResult r = convert(dir.file("notes.txt"), dir.file("out.safetensors"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("unknown signature"), std::string::npos) << r.output;
  const test::CommandResult missing = convert(dir.file("absent.pth"), dir.file("out.safetensors"));
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.output.find("file not found"), std::string::npos) << missing.output;
  EXPECT_FALSE(fs::exists(dir.file("out.safetensors")));
}

// An output that cannot be written is one error line that says why, without
// a Python traceback, and leaves no temporary file.
TEST_F(Converter, AnUnwritableOutputIsAnErrorLineNotATraceback) {
  REQUIRE_PYTHON_MODULE("numpy");
  REQUIRE_PYTHON_MODULE("torch");
  const std::string source = fixture("vgg19_caffe_tiny.pth");
  const test::CommandResult missing_folder = convert(source, dir.file("no such/x.safetensors"));
  EXPECT_EQ(missing_folder.exit_code, 1) << missing_folder.output;
  EXPECT_NE(missing_folder.output.find("convert_weights.py: error: cannot write"), std::string::npos)
      << missing_folder.output;
  EXPECT_NE(missing_folder.output.find("does not exist; create it first"), std::string::npos) << missing_folder.output;
  fs::create_directories(dir.file("folder"));
  const test::CommandResult folder = convert(source, dir.file("folder"));
  EXPECT_EQ(folder.exit_code, 1) << folder.output;
  EXPECT_NE(folder.output.find("is a folder: give the file to write"), std::string::npos) << folder.output;
  for (const auto& r : {missing_folder, folder}) EXPECT_EQ(r.output.find("Traceback"), std::string::npos) << r.output;
  for (const auto& entry : fs::recursive_directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().extension(), "") << "left behind: " << entry.path();
  }
}

}  // namespace
}  // namespace stylize
