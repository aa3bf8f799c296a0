// The enumerations of stylize's settings, each with ONE table of the words that
// name its values. parse() and to_string() read that table, so the command
// line, the options, the report and the messages all use the same words.
//
//   stylize::parse<Precision>("BF16")  -> Precision::Bf16 (case-insensitive)
//   stylize::to_string(Precision::Bf16) -> "bf16"
//   stylize::words<Precision>()         -> {"auto", "fp32", "bf16", "fp16"}
#pragma once

#include <array>
#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace stylize {

enum class DeviceKind { Auto, Cpu, Cuda };
enum class Precision { Auto, Fp32, Bf16, Fp16 };
enum class OptimizerKind { Adam, Lbfgs };
// Where Adam adds epsilon: to sqrt(v) before the bias correction (TensorFlow and
// Keras, so the tutorial) or to the bias-corrected sqrt(v) (torch.optim.Adam).
enum class AdamEpsilon { TensorFlow, PyTorch };
// What the content and style terms are measured in (core/loss_units.hpp): the
// tutorial's raw means, or relative to their targets; auto: by the weights' convention.
enum class LossUnits { Auto, Tutorial, Normalized };
enum class Pooling { Max, Avg };
enum class TvNorm { L1, L2 };
enum class PreserveColors { None, Luminance, Histogram };
// How the optimized image starts: the content, uniform noise from the seed, the
// first style stretched to the content's size, or an image given to run().
enum class InitMode { Content, Noise, Style, Image };
// Why a run ended.
enum class StopReason {
  Finished,        // ran every iteration
  Interrupted,     // the callback asked to stop
  Converged,       // stopped early: the loss no longer changes (L-BFGS, or Adam with a tolerance)
  NumericFailure,  // the loss or its gradient became NaN or infinite; the image is the last good one
};

// The word table of an enumeration: `table` pairs every value with its word.
template <typename T>
struct EnumWords;

template <typename T, size_t N>
using WordTable = std::array<std::pair<T, const char*>, N>;

template <>
struct EnumWords<DeviceKind> {
  static constexpr WordTable<DeviceKind, 3> table{
      {{DeviceKind::Auto, "auto"}, {DeviceKind::Cpu, "cpu"}, {DeviceKind::Cuda, "cuda"}}};
};
template <>
struct EnumWords<Precision> {
  static constexpr WordTable<Precision, 4> table{
      {{Precision::Auto, "auto"}, {Precision::Fp32, "fp32"}, {Precision::Bf16, "bf16"}, {Precision::Fp16, "fp16"}}};
};
template <>
struct EnumWords<OptimizerKind> {
  static constexpr WordTable<OptimizerKind, 2> table{{{OptimizerKind::Adam, "adam"}, {OptimizerKind::Lbfgs, "lbfgs"}}};
};
template <>
struct EnumWords<AdamEpsilon> {
  static constexpr WordTable<AdamEpsilon, 2> table{
      {{AdamEpsilon::TensorFlow, "tensorflow"}, {AdamEpsilon::PyTorch, "pytorch"}}};
};
template <>
struct EnumWords<LossUnits> {
  static constexpr WordTable<LossUnits, 3> table{
      {{LossUnits::Auto, "auto"}, {LossUnits::Tutorial, "tutorial"}, {LossUnits::Normalized, "normalized"}}};
};
template <>
struct EnumWords<Pooling> {
  static constexpr WordTable<Pooling, 2> table{{{Pooling::Max, "max"}, {Pooling::Avg, "avg"}}};
};
template <>
struct EnumWords<TvNorm> {
  static constexpr WordTable<TvNorm, 2> table{{{TvNorm::L1, "l1"}, {TvNorm::L2, "l2"}}};
};
template <>
struct EnumWords<PreserveColors> {
  static constexpr WordTable<PreserveColors, 3> table{{{PreserveColors::None, "none"},
                                                       {PreserveColors::Luminance, "luminance"},
                                                       {PreserveColors::Histogram, "histogram"}}};
};
template <>
struct EnumWords<InitMode> {
  static constexpr WordTable<InitMode, 4> table{{{InitMode::Content, "content"},
                                                 {InitMode::Noise, "noise"},
                                                 {InitMode::Style, "style"},
                                                 {InitMode::Image, "image"}}};
};
template <>
struct EnumWords<StopReason> {
  static constexpr WordTable<StopReason, 4> table{{{StopReason::Finished, "finished"},
                                                   {StopReason::Interrupted, "interrupted"},
                                                   {StopReason::Converged, "converged"},
                                                   {StopReason::NumericFailure, "numeric-failure"}}};
};

// The word of `value`.
template <typename T, typename = std::enable_if_t<std::is_enum_v<T>>>
std::string to_string(T value) {
  for (const auto& [entry, word] : EnumWords<T>::table) {
    if (entry == value) return word;
  }
  return "?";
}

// The value a word names, ignoring case; nullopt for an unknown word.
template <typename T>
std::optional<T> parse(std::string_view word) {
  for (const auto& [value, name] : EnumWords<T>::table) {
    const std::string_view known(name);
    if (known.size() != word.size()) continue;
    bool same = true;
    for (size_t i = 0; i < word.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(word[i])) == known[i];
    }
    if (same) return value;
  }
  return std::nullopt;
}

// Every word of an enumeration, in the table's order.
template <typename T>
std::vector<std::string> words() {
  std::vector<std::string> list;
  for (const auto& entry : EnumWords<T>::table) list.emplace_back(entry.second);
  return list;
}

}  // namespace stylize
