#include "stylize/vgg19_layers.hpp"

#include <algorithm>

#include "stylize/errors.hpp"

namespace stylize {

const std::vector<Vgg19Layer>& vgg19_layers() {
  static const std::vector<Vgg19Layer> layers = [] {
    std::vector<Vgg19Layer> table;
    int conv = -1;
    for (int block = 1; block <= 5; ++block) {
      const int64_t width = kVgg19BlockWidths[block - 1];
      for (int i = 1; i <= kVgg19BlockConvs[block - 1]; ++i) {
        const std::string suffix = std::to_string(block) + "_" + std::to_string(i);
        ++conv;
        table.push_back({"conv" + suffix, LayerKind::Conv, block, conv, width});
        table.push_back({"relu" + suffix, LayerKind::Relu, block, conv, width});
      }
      table.push_back({"pool" + std::to_string(block), LayerKind::Pool, block, conv, width});
    }
    return table;
  }();
  return layers;
}

const std::vector<std::string>& vgg19_layer_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> list;
    for (const auto& layer : vgg19_layers()) list.push_back(layer.name);
    return list;
  }();
  return names;
}

const std::vector<std::string>& vgg19_conv_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> list;
    for (const auto& layer : vgg19_layers()) {
      if (layer.kind == LayerKind::Conv) list.push_back(layer.name);
    }
    return list;
  }();
  return names;
}

int vgg19_layer_index(const std::string& layer) {
  const auto& names = vgg19_layer_names();
  const auto it = std::find(names.begin(), names.end(), layer);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

int deepest_layer_index(const std::vector<std::string>& layers) {
  int deepest = -1;
  for (const auto& layer : layers) {
    const int index = vgg19_layer_index(layer);
    if (index < 0) throw OptionError("unknown VGG19 layer '" + layer + "'; use names such as relu4_2 or pool3");
    deepest = std::max(deepest, index);
  }
  if (deepest < 0) throw OptionError("no VGG19 layers were requested");
  return deepest;
}

int convs_needed(const std::vector<std::string>& layers) {
  return vgg19_layers()[deepest_layer_index(layers)].conv + 1;
}

ReceptiveField receptive_field(int layer_index) {
  ReceptiveField field;
  for (int i = 0; i <= layer_index && i < static_cast<int>(vgg19_layers().size()); ++i) {
    switch (vgg19_layers()[i].kind) {
      case LayerKind::Conv:  // 3x3: one more location on each side
        field.left += field.stride;
        field.right += field.stride;
        break;
      case LayerKind::Relu:
        break;
      case LayerKind::Pool:  // 2x2: one more location on the right
        field.right += field.stride;
        field.stride *= 2;
        break;
    }
  }
  return field;
}

}  // namespace stylize
