// Pictures of a run: the loss curves (--plot) and a labelled contact sheet of
// the inputs and results (--sheet). Drawn with OpenCV, saved with
// stylize::save_image (so atomically, by extension).
#pragma once

#include <string>
#include <vector>

#include <torch/types.h>

#include "report.hpp"

namespace stylize::cli {

// Loss curves of each run (the total and each term against iteration, log-scale
// y, scales one after the other), with axes, ticks and a legend: one panel per
// output, one above the other. Throws OutputError.
void write_plot(const std::string& path, const std::vector<RunRecord>& runs);

// The plot's width and height for `runs` outputs, known before the run (so
// that a format's limits are checked then): a 900x540 panel per output.
constexpr int kPlotWidth = 900, kPlotPanelHeight = 540;

// A contact sheet's height for `rows` rows of tiles `tile_height` high (its
// width follows the images' shapes).
int64_t contact_sheet_height(size_t rows, int tile_height = 256);

// The iterations a plot from `first` to `last` marks: multiples of a step of
// 1, 2 or 5 times a power of ten (at least 1), about five of them.
std::vector<long long> iteration_ticks(double first, double last);

// A labelled image for a contact sheet.
struct SheetTile {
  torch::Tensor image;  // (1, 3, H, W) in [0, 1]
  std::string label;
};

// Lays rows of labelled tiles out on a white sheet (each tile scaled to
// `tile_height` pixels) and saves it. Throws OutputError.
void save_contact_sheet(const std::vector<std::vector<SheetTile>>& rows, const std::string& path,
                        int tile_height = 256);

}  // namespace stylize::cli
