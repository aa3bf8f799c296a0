// The layer table of VGG19 (configuration E of Simonyan and Zisserman), written
// once for every wing: the feature extractor walks it, the weights readers take
// their layer names and file keys from it, and a tiled evaluation takes its
// halo from receptive_field().
//
// 37 layers in 5 blocks: conv1_1 relu1_1 conv1_2 relu1_2 pool1 conv2_1 ...
// conv5_4 relu5_4 pool5. Every convolution is 3x3 with padding 1, every pool
// 2x2 with stride 2. A layer's position in the table is also its index in
// torchvision's vgg19().features (conv1_1 = 0, relu4_2 = 22, conv5_4 = 34).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace stylize {

enum class LayerKind { Conv, Relu, Pool };

struct Vgg19Layer {
  std::string name;  // "relu4_2"
  LayerKind kind;
  int block = 0;      // 1..5
  int conv = 0;       // 0-based index of the convolution this layer follows (its own index for a conv); -1 before any
  int64_t width = 0;  // output channels of the original ImageNet VGG19 (files may be narrower, e.g. test fixtures)
};

constexpr int kVgg19Convs = 16;
// Convolutions per block.
constexpr std::array<int, 5> kVgg19BlockConvs = {2, 2, 4, 4, 4};
// Output channels of each block's convolutions in the ImageNet VGG19.
constexpr std::array<int64_t, 5> kVgg19BlockWidths = {64, 128, 256, 512, 512};

// All 37 layers, in order.
const std::vector<Vgg19Layer>& vgg19_layers();

// All 37 layer names, in order.
const std::vector<std::string>& vgg19_layer_names();

// The 16 convolution names, conv1_1 ... conv5_4.
const std::vector<std::string>& vgg19_conv_names();

// Position of `layer` in the table, or -1 if it is not a layer name.
int vgg19_layer_index(const std::string& layer);

// Position of the deepest of `layers` in the table. Throws OptionError for an
// unknown layer name or an empty list.
int deepest_layer_index(const std::vector<std::string>& layers);

// Number of convolutions needed to compute `layers` (1..16). Throws OptionError
// for an unknown layer name or an empty list.
int convs_needed(const std::vector<std::string>& layers);

// How much of the input one location of a layer's output sees, and where:
// location j (of `stride` input pixels between neighbours, 2^pools before it)
// reads the input pixels [j stride - left, j stride + right], size() of them
// (the receptive field). A 3x3 convolution widens both sides by the current
// stride; a 2x2 pooling widens the right side by it before doubling it.
// tile_geometry() takes a tile's halo from left and right.
struct ReceptiveField {
  int64_t stride = 1;
  int64_t left = 0;
  int64_t right = 0;
  int64_t size() const { return left + 1 + right; }
};
ReceptiveField receptive_field(int layer_index);

}  // namespace stylize
