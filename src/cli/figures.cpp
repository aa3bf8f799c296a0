#include "figures.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "stylize/io/image_io.hpp"

namespace stylize::cli {
namespace {

// One curve of a loss plot.
struct PlotSeries {
  std::string name;
  std::vector<double> x, y;
};

cv::Mat tensor_to_bgr8(const torch::Tensor& image) {
  const torch::Tensor hwc = image.detach()
                                .squeeze(0)
                                .to(torch::kCPU, torch::kFloat32)
                                .nan_to_num(0.0)
                                .clamp(0.0, 1.0)
                                .mul(255.0)
                                .round()
                                .to(torch::kUInt8)
                                .flip({0})  // RGB -> BGR
                                .permute({1, 2, 0})
                                .contiguous();
  return cv::Mat(static_cast<int>(hwc.size(0)), static_cast<int>(hwc.size(1)), CV_8UC3, hwc.data_ptr()).clone();
}

// The (1, 3, H, W) RGB tensor of an 8-bit BGR picture; save_image writes the same bytes back.
torch::Tensor bgr8_to_tensor(const cv::Mat& bgr) {
  const cv::Mat continuous = bgr.isContinuous() ? bgr : bgr.clone();
  return torch::from_blob(continuous.data, {continuous.rows, continuous.cols, 3}, torch::kUInt8)
      .permute({2, 0, 1})
      .flip({0})  // BGR -> RGB
      .unsqueeze(0)
      .to(torch::kFloat32)
      .div(255.0);
}

// One panel: the series on a log scale against the iterations.
cv::Mat loss_plot(const std::vector<PlotSeries>& series, const std::string& title) {
  const int width = kPlotWidth, height = kPlotPanelHeight, left = 90, right = 160, top = 50, bottom = 60;
  cv::Mat canvas(height, width, CV_8UC3, cv::Scalar(255, 255, 255));
  double x_min = 1e300, x_max = -1e300, y_min = 1e300, y_max = -1e300;
  for (const auto& s : series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!(s.y[i] > 0) || !std::isfinite(s.y[i])) continue;  // log scale: positive values only
      x_min = std::min(x_min, s.x[i]);
      x_max = std::max(x_max, s.x[i]);
      y_min = std::min(y_min, std::log10(s.y[i]));
      y_max = std::max(y_max, std::log10(s.y[i]));
    }
  }
  if (x_min > x_max) x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  y_min = std::floor(y_min);
  y_max = std::max(std::ceil(y_max), y_min + 1);
  if (x_max <= x_min) x_max = x_min + 1;
  const auto px = [&](double x) { return left + (x - x_min) / (x_max - x_min) * (width - left - right); };
  const auto py = [&](double log_y) { return top + (y_max - log_y) / (y_max - y_min) * (height - top - bottom); };
  const cv::Scalar black(0, 0, 0), grid(225, 225, 225);
  const int font = cv::FONT_HERSHEY_SIMPLEX;
  for (int e = static_cast<int>(y_min); e <= static_cast<int>(y_max); ++e) {
    const int y = static_cast<int>(py(e));
    cv::line(canvas, {left, y}, {width - right, y}, grid, 1);
    cv::putText(canvas, "1e" + std::to_string(e), {10, y + 5}, font, 0.5, black, 1, cv::LINE_AA);
  }
  for (const long long x : iteration_ticks(x_min, x_max)) {
    const int xp = static_cast<int>(px(static_cast<double>(x)));
    cv::line(canvas, {xp, top}, {xp, height - bottom}, grid, 1);
    cv::putText(canvas, std::to_string(x), {xp - 15, height - bottom + 22}, font, 0.5, black, 1, cv::LINE_AA);
  }
  cv::rectangle(canvas, {left, top}, {width - right, height - bottom}, black, 1);
  cv::putText(canvas, "iteration", {(width - right + left) / 2 - 35, height - 15}, font, 0.55, black, 1, cv::LINE_AA);
  cv::putText(canvas, title, {left, 30}, font, 0.65, black, 1, cv::LINE_AA);
  static const cv::Scalar colours[] = {{40, 40, 40}, {200, 80, 30}, {40, 150, 40}, {30, 60, 220}, {150, 50, 150}};
  for (size_t k = 0; k < series.size(); ++k) {
    const cv::Scalar colour = colours[k % 5];
    std::vector<cv::Point> points;
    for (size_t i = 0; i < series[k].x.size() && i < series[k].y.size(); ++i) {
      if (!(series[k].y[i] > 0) || !std::isfinite(series[k].y[i])) continue;
      points.emplace_back(static_cast<int>(px(series[k].x[i])), static_cast<int>(py(std::log10(series[k].y[i]))));
    }
    if (points.size() > 1) cv::polylines(canvas, points, false, colour, 2, cv::LINE_AA);
    const int y = top + 20 + 25 * static_cast<int>(k);
    cv::line(canvas, {width - right + 15, y - 5}, {width - right + 45, y - 5}, colour, 2, cv::LINE_AA);
    cv::putText(canvas, series[k].name, {width - right + 52, y}, font, 0.5, black, 1, cv::LINE_AA);
  }
  return canvas;
}

// The panel of one output's run: the total and each term, scales one after the other.
cv::Mat run_plot(const RunRecord& run) {
  std::vector<PlotSeries> series = {{"total", {}, {}}};
  if (!run.iterations.empty()) {
    for (const auto& term : run.iterations.front().losses.terms) series.push_back({term.first, {}, {}});
  }
  double offset = 0;  // iterations of earlier scales, so scales follow each other on the x axis
  int scale = 1, last_iteration = 0;
  for (const auto& it : run.iterations) {
    if (it.scale != scale) {
      offset += last_iteration;
      scale = it.scale;
    }
    last_iteration = it.iteration;
    const double x = offset + it.iteration;
    series[0].x.push_back(x);
    series[0].y.push_back(it.losses.total);
    for (size_t k = 0; k < it.losses.terms.size() && k + 1 < series.size(); ++k) {
      series[k + 1].x.push_back(x);
      series[k + 1].y.push_back(it.losses.terms[k].second);
    }
  }
  return loss_plot(series, "losses: " + std::filesystem::path(run.output).filename().string());
}

}  // namespace

std::vector<long long> iteration_ticks(double first, double last) {
  const double wanted = std::max(1.0, (last - first) / 5);
  const double power = std::pow(10.0, std::floor(std::log10(wanted)));
  double step = 10 * power;
  for (const double factor : {1.0, 2.0, 5.0}) {
    if (wanted <= factor * power * (1 + 1e-9)) {
      step = factor * power;
      break;
    }
  }
  std::vector<long long> ticks;
  for (double x = std::ceil(first / step - 1e-9) * step; x <= last + 1e-9 && ticks.size() < 100; x += step) {
    ticks.push_back(std::llround(x));
  }
  return ticks;
}

namespace {
constexpr int kSheetMargin = 12, kSheetLabelHeight = 26;
}  // namespace

int64_t contact_sheet_height(size_t rows, int tile_height) {
  return kSheetMargin + static_cast<int64_t>(rows) * (tile_height + kSheetLabelHeight + kSheetMargin);
}

void save_contact_sheet(const std::vector<std::vector<SheetTile>>& rows, const std::string& path, int tile_height) {
  const int margin = kSheetMargin, label_height = kSheetLabelHeight;
  std::vector<std::vector<cv::Mat>> scaled(rows.size());
  int width = margin;
  for (size_t r = 0; r < rows.size(); ++r) {
    int row_width = margin;
    for (const auto& tile : rows[r]) {
      cv::Mat bgr = tensor_to_bgr8(tile.image);
      const int w = std::max(1, static_cast<int>(std::lround(double(bgr.cols) * tile_height / bgr.rows)));
      cv::Mat resized;
      cv::resize(bgr, resized, cv::Size(w, tile_height), 0, 0, w < bgr.cols ? cv::INTER_AREA : cv::INTER_CUBIC);
      scaled[r].push_back(resized);
      row_width += w + margin;
    }
    width = std::max(width, row_width);
  }
  const int height = static_cast<int>(contact_sheet_height(rows.size(), tile_height));
  cv::Mat sheet(height, width, CV_8UC3, cv::Scalar(255, 255, 255));
  for (size_t r = 0; r < rows.size(); ++r) {
    int x = margin;
    const int y = margin + static_cast<int>(r) * (tile_height + label_height + margin);
    for (size_t t = 0; t < rows[r].size(); ++t) {
      const cv::Mat& tile = scaled[r][t];
      tile.copyTo(sheet(cv::Rect(x, y, tile.cols, tile.rows)));
      std::string label = rows[r][t].label;
      // Shorten labels that would overflow their tile.
      while (label.size() > 4 && cv::getTextSize(label, cv::FONT_HERSHEY_SIMPLEX, 0.5, 1, nullptr).width > tile.cols) {
        label = label.substr(0, label.size() - 4) + "...";
      }
      cv::putText(sheet, label, {x, y + tile_height + 18}, cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 0, 0), 1,
                  cv::LINE_AA);
      x += tile.cols + margin;
    }
  }
  save_image(bgr8_to_tensor(sheet), path);
}

void write_plot(const std::string& path, const std::vector<RunRecord>& runs) {
  std::vector<cv::Mat> panels;
  for (const RunRecord& run : runs) panels.push_back(run_plot(run));
  cv::Mat plot;
  cv::vconcat(panels, plot);
  save_image(bgr8_to_tensor(plot), path);
}

}  // namespace stylize::cli
