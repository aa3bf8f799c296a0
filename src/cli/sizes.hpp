// The sizes the images of a command are loaded at.
#pragma once

#include "params.hpp"

namespace stylize::cli {

// The longest side the style images are loaded at: --style-size, else
// --style-scale x --size rounded, at least 1 (0 would mean "keep the file's size").
int style_side(const CliParams& params);

}  // namespace stylize::cli
