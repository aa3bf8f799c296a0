// Reader for Keras HDF5 weight files (model.save_weights() of Keras 1 and 2,
// e.g. vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5), through libhdf5:
// layers block1_conv1 ... block5_conv4, kernels (kh, kw, in, out) transposed to
// (out, in, kh, kw), Caffe input convention.
#pragma once

#include <string>

#include "stylize/weights/weights.hpp"

namespace stylize {

// Reads the first `num_convs` convolutions (1..16) from the file at `path`.
// Throws WeightsError.
VggWeights read_vgg19_keras_hdf5(const std::string& path, int num_convs = 16);

// The same for a file held in memory (HDF5's file-image driver; used by the
// fuzzer and tests): `display_name` names it in errors. Throws WeightsError.
VggWeights read_vgg19_keras_hdf5_bytes(const std::string& bytes, const std::string& display_name, int num_convs = 16);

}  // namespace stylize
