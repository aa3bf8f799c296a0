// The stylize command line in-process: every flag reaching CliParams or
// StylizeOptions, the word tables, presets, the front end's own checks, the
// jobs a command makes and the one exit-code table. (tests/test_cli.cpp runs
// the executable for what needs a process.)
#include <gtest/gtest.h>

#include <filesystem>
#include <new>
#include <stdexcept>

#include "cli/args.hpp"
#include "cli/checkpoint.hpp"
#include "cli/estimate.hpp"
#include "cli/exit_codes.hpp"
#include "cli/figures.hpp"
#include "cli/jobs.hpp"
#include "cli/run_progress.hpp"
#include "cli/terminal_bar.hpp"
#include "stylize/core/objective.hpp"
#include "stylize/errors.hpp"
#include "stylize/io/image_io.hpp"
#include "test_util.hpp"

namespace stylize::cli {
namespace {

namespace fs = std::filesystem;

// Parses `command_line` as the stylize executable does (without running it).
CliParams parse_flags(const std::string& command_line) {
  CliParams params;
  CLI::App app;
  build_parser(app, params);
  app.parse(command_line, /*program_name_included=*/false);
  finish_parse(app, params);
  return params;
}

// The OptionError message of parsing and validating `command_line`, or "".
std::string option_error(const std::string& command_line) {
  try {
    CliParams params = parse_flags(command_line);
    validate_params(params);  // the front end's own checks, then the engine's (validate)
  } catch (const OptionError& e) {
    return e.what();
  }
  return "";
}

TEST(CliArgs, DefaultsAreTheTutorials) {
  const CliParams p = parse_flags("");
  const StylizeOptions defaults;
  EXPECT_EQ(p.size, 512);
  EXPECT_EQ(p.output_path, "out.png");
  EXPECT_FALSE(p.output_given);
  EXPECT_EQ(p.bit_depth, 0) << "automatic: from the content image";
  EXPECT_FALSE(p.keep_profile);
  EXPECT_EQ(p.print_every, 100);
  EXPECT_EQ(p.options.iterations, 1000);
  EXPECT_EQ(p.options.content_layers.size(), 1u);
  EXPECT_EQ(p.options.content_layers[0].layer, "relu5_2");
  EXPECT_EQ(p.options.style_layers.size(), 5u);
  EXPECT_DOUBLE_EQ(p.options.style_weight, defaults.style_weight);
  EXPECT_EQ(p.options.init, InitMode::Content);
  EXPECT_EQ(p.options.optimizer, OptimizerKind::Adam);
}

TEST(CliArgs, EveryFlagReachesTheParamsOrTheOptions) {
  const CliParams p = parse_flags(
      "-c c.png -s a.png --style b.png -o o.jpg --bit-depth 16 --keep-profile --size 300 --style-size 200 "
      "--style-scale 1.5 "
      "--style-weights 0.7,0.3 --preserve-colors Luminance --init noise --each-style --batch 3 "
      "--output-template {n}.png --weights w.h5 --offline --content-layers relu4_2:2,relu5_1 "
      "--style-layers relu1_1,relu2_1:0.5 --pooling avg --content-weight 5 --style-weight 6 --tv-weight 7 "
      "--tv-norm l2 --optimizer lbfgs -n 42 --lr 0.5 --beta1 0.5 --beta2 0.6 --eps 0.7 --nesterov --scales 2 "
      "--min-size 100 "
      "--seed 9 --resume r.png --device cpu --precision bf16 --threads 3 --print-every 4 --save-every 5 "
      "--report r.json --plot p.png --sheet s.png -v --estimate");
  EXPECT_TRUE(p.estimate);
  EXPECT_FALSE(parse_flags("").estimate);
  EXPECT_EQ(p.content_path, "c.png");
  EXPECT_EQ(p.style_paths, (std::vector<std::string>{"a.png", "b.png"}));
  EXPECT_EQ(p.output_path, "o.jpg");
  EXPECT_TRUE(p.output_given);
  EXPECT_EQ(p.bit_depth, 16);
  EXPECT_TRUE(p.keep_profile);
  EXPECT_EQ(p.size, 300);
  EXPECT_EQ(p.style_size, 200);
  EXPECT_DOUBLE_EQ(p.style_scale, 1.5);
  EXPECT_EQ(p.style_blend, (std::vector<double>{0.7, 0.3}));
  EXPECT_EQ(p.options.preserve_colors, PreserveColors::Luminance);
  EXPECT_EQ(p.init, "noise");
  EXPECT_EQ(p.options.init, InitMode::Noise);
  EXPECT_TRUE(p.each_style);
  EXPECT_EQ(p.batch, 3);
  EXPECT_EQ(p.output_template, "{n}.png");
  EXPECT_EQ(p.weights_path, "w.h5");
  EXPECT_TRUE(p.offline);
  ASSERT_EQ(p.options.content_layers.size(), 2u);
  EXPECT_EQ(p.options.content_layers[0].layer, "relu4_2");
  EXPECT_DOUBLE_EQ(p.options.content_layers[0].weight, 2.0);
  ASSERT_EQ(p.options.style_layers.size(), 2u);
  EXPECT_DOUBLE_EQ(p.options.style_layers[1].weight, 0.5);
  EXPECT_EQ(p.options.pooling, Pooling::Avg);
  EXPECT_DOUBLE_EQ(p.options.content_weight, 5);
  EXPECT_DOUBLE_EQ(p.options.style_weight, 6);
  EXPECT_DOUBLE_EQ(p.options.tv_weight, 7);
  EXPECT_EQ(p.options.tv_norm, TvNorm::L2);
  EXPECT_EQ(p.options.optimizer, OptimizerKind::Lbfgs);
  EXPECT_EQ(p.options.iterations, 42);
  EXPECT_DOUBLE_EQ(p.options.lr, 0.5);
  EXPECT_DOUBLE_EQ(p.options.beta1, 0.5);
  EXPECT_DOUBLE_EQ(p.options.beta2, 0.6);
  EXPECT_DOUBLE_EQ(p.options.eps, 0.7);
  EXPECT_TRUE(p.options.nesterov);
  EXPECT_FALSE(parse_flags("").options.nesterov) << "the tutorial's Adam";
  EXPECT_EQ(p.options.scales, 2);
  EXPECT_EQ(p.options.min_size, 100);
  EXPECT_EQ(p.options.seed, 9u);
  EXPECT_EQ(p.resume, "r.png");
  EXPECT_EQ(p.options.device, DeviceKind::Cpu);
  EXPECT_EQ(p.options.precision, Precision::Bf16);
  EXPECT_EQ(p.threads, 3);
  EXPECT_EQ(p.print_every, 4);
  EXPECT_EQ(p.save_every, 5);
  EXPECT_EQ(p.report_path, "r.json");
  EXPECT_EQ(p.plot_path, "p.png");
  EXPECT_EQ(p.sheet_path, "s.png");
  EXPECT_TRUE(parse_flags("-q").quiet) << "not with -v: a usage error";
  EXPECT_TRUE(p.verbose);
}

TEST(CliArgs, ARepeatedFlagOverridesAndInitTakesAPath) {
  const CliParams p = parse_flags("--size 100 --size 200 --init photo.png --bit-depth 16 --bit-depth 8");
  EXPECT_EQ(p.size, 200);
  EXPECT_EQ(p.bit_depth, 8);
  EXPECT_EQ(parse_flags("--bit-depth 16 --bit-depth auto").bit_depth, 0);
  EXPECT_EQ(p.init, "photo.png");
  EXPECT_EQ(p.options.init, InitMode::Image);
  EXPECT_EQ(init_mode("STYLE"), InitMode::Style);
  EXPECT_EQ(init_mode("image"), InitMode::Image);  // a file called "image"
  EXPECT_THROW(init_mode(""), OptionError);
}

TEST(CliArgs, UnknownWordsFlagsAndPresetsAreUsageErrors) {
  for (const std::string bad : {"--device gpu", "--precision fp8", "--optimizer sgd", "--pooling min", "--tv-norm l3",
                                "--preserve-colors sepia", "--preset picasso", "--bogus-flag", "--size ten",
                                "--bit-depth 12", "--bit-depth 32", "--bit-depth", "--keep-profile=maybe"}) {
    EXPECT_THROW(parse_flags(bad), CLI::ParseError) << bad;
  }
  CliParams params;
  CLI::App app;
  build_parser(app, params);
  try {
    app.parse("--device gpu", false);
    FAIL();
  } catch (const CLI::ParseError& e) {
    EXPECT_NE(std::string(e.what()).find("--device"), std::string::npos) << e.what();
    EXPECT_NE(app.exit(e), 0) << "main maps a nonzero CLI11 exit to 2";
  }
}

TEST(CliArgs, LayerListsAreParsedWithWeightsAndChecked) {
  const auto layers = parse_layer_list("relu1_1:0.2, relu2_1", "--style-layers");
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_EQ(layers[0].layer, "relu1_1");
  EXPECT_DOUBLE_EQ(layers[0].weight, 0.2);
  EXPECT_DOUBLE_EQ(layers[1].weight, 1.0);
  EXPECT_EQ(parse_layer_list("RELU1_1,Conv5_2", "--content-layers")[1].layer, "conv5_2");  // any case
  EXPECT_THROW(parse_layer_list("relu1_1,RELU1_1", "--style-layers"), OptionError);        // still listed twice
  EXPECT_THROW(parse_layer_list("relu1_1,relu9_1", "--style-layers"), OptionError);
  EXPECT_THROW(parse_layer_list("relu1_1:abc", "--style-layers"), OptionError);
  EXPECT_THROW(parse_layer_list("relu1_1:0", "--style-layers"), OptionError);
  EXPECT_NE(option_error("--style-layers relu1_1,relu9_9").find("--style-layers: unknown layer 'relu9_9'"),
            std::string::npos);
  EXPECT_NE(option_error("--content-layers relu4_2:x").find("cannot read the weight 'x'"), std::string::npos);
  EXPECT_EQ(parse_number_list("0.7,0.3", "--style-weights"), (std::vector<double>{0.7, 0.3}));
  EXPECT_THROW(parse_number_list("0.7,abc", "--style-weights"), OptionError);
}

// Issue 19's messages: what was expected, what was found.
TEST(CliArgs, AnEmptyValueIsRefusedNotReadAsZero) {
  for (const char* flag : {"--content-weight", "--size", "--style-weights", "--weights"}) {
    CliParams params;
    CLI::App app;
    build_parser(app, params);
    std::vector<std::string> args = {"", flag};  // reversed, as CLI11 takes a vector
    try {
      app.parse(args);
      ADD_FAILURE() << flag << " \"\" was taken";
    } catch (const CLI::ValidationError& e) {
      EXPECT_NE(std::string(e.what()).find("needs a value, got an empty one"), std::string::npos) << e.what();
    }
  }
  // The sub-commands' own options too.
  VideoParams video;
  CLI::App app;
  build_video_parser(app, video);
  EXPECT_THROW(app.parse(std::vector<std::string>{"", "--frame-iterations"}), CLI::ValidationError);
}

// Parses `command_line` as `stylize video` does (without running it).
VideoParams parse_video_flags(const std::string& command_line) {
  VideoParams params;
  CLI::App app;
  build_video_parser(app, params);
  app.parse(command_line, /*program_name_included=*/false);
  finish_parse(app, params.run);
  finish_video_parse(app, params);
  return params;
}

// The help of stylize video says what it does: one video, its styles blended
// (a folder of styles is refused: video_command).
TEST(VideoArgs, HelpDescribesTheVideosFlags) {
  VideoParams params;
  CLI::App app;
  build_video_parser(app, params);
  const std::string help = app.help();
  for (const std::string needle : {"--frame-iterations INT=200", "--temporal-weight FLOAT=1000", "--keep-frames",
                                   "-o,--output TEXT=out.mp4", "blend several into the one video"}) {
    EXPECT_NE(help.find(needle), std::string::npos) << needle << "\n" << help;
  }
  for (const std::string absent : {"--each-style", "--output-template", "folder for one output per style", "=[]"}) {
    EXPECT_EQ(help.find(absent), std::string::npos) << absent << "\n" << help;
  }
}

TEST(VideoArgs, PresetFastHalvesTheLaterFramesIterationsUnlessGiven) {
  EXPECT_EQ(parse_video_flags("-c in.mp4 -s a.png").frame_iterations, 200);
  const VideoParams fast = parse_video_flags("-c in.mp4 -s a.png --preset fast");
  EXPECT_EQ(fast.frame_iterations, 100);
  EXPECT_EQ(fast.run.options.iterations, 160) << "the first frame's, as for one image";
  EXPECT_EQ(parse_video_flags("-c in.mp4 -s a.png --preset fast --frame-iterations 150").frame_iterations, 150);
  EXPECT_EQ(parse_video_flags("-c in.mp4 -s a.png --preset tutorial").frame_iterations, 200);
}

TEST(LossPlot, MarksRoundIterations) {
  using Ticks = std::vector<long long>;
  EXPECT_EQ(iteration_ticks(1, 5), (Ticks{1, 2, 3, 4, 5}));  // was 1 2 3 3 4 5: rounded fifths
  EXPECT_EQ(iteration_ticks(1, 7), (Ticks{2, 4, 6}));
  EXPECT_EQ(iteration_ticks(1, 1000), (Ticks{200, 400, 600, 800, 1000}));
  EXPECT_EQ(iteration_ticks(301, 1000), (Ticks{400, 600, 800, 1000}));  // a resumed run
  EXPECT_EQ(iteration_ticks(1, 1), (Ticks{1}));
  EXPECT_EQ(iteration_ticks(0, 1), (Ticks{0, 1}));
}

TEST(VideoArgs, FrameRatesTheEncodersTakeAreAccepted) {
  EXPECT_NO_THROW(validate_video_params(parse_video_flags("-c in.mp4 -s a.png --fps 0")));  // the input's
  EXPECT_NO_THROW(validate_video_params(parse_video_flags("-c in.mp4 -s a.png --fps 0.01")));
  EXPECT_NO_THROW(validate_video_params(parse_video_flags("-c in.mp4 -s a.png --fps 1000")));
  for (const std::string bad : {"0.001", "-1", "1001", "nan"}) {
    try {
      validate_video_params(parse_video_flags("-c in.mp4 -s a.png --fps " + bad));
      ADD_FAILURE() << bad;
    } catch (const OptionError& e) {
      EXPECT_NE(std::string(e.what()).find("--fps must be a frame rate from 0.01 to 1000"), std::string::npos)
          << e.what();
    }
  }
}

TEST(CliArgs, LayerListsRefuseDuplicatesAndReadTinyWeights) {
  EXPECT_NE(option_error("--style-layers relu1_1,relu2_1,relu1_1")
                .find("--style-layers: layer relu1_1 is listed twice; list it once, with a weight if it should count "
                      "more (relu1_1:2)"),
            std::string::npos);
  // 1e-320 is a number (a denormal), not "cannot read".
  const std::vector<LayerWeight> tiny = parse_layer_list("relu1_1:1e-320,relu2_1", "--style-layers");
  EXPECT_GT(tiny[0].weight, 0.0);
  EXPECT_LT(tiny[0].weight, 1e-300);
  EXPECT_NE(option_error("--style-layers relu1_1:1e999")
                .find("cannot read the weight '1e999' of layer 'relu1_1' "
                      "as a number"),
            std::string::npos);
  // Trailing characters were silently dropped from --style-weights.
  EXPECT_THROW(parse_number_list("0.7x,0.3", "--style-weights"), OptionError);
}

TEST(CliArgs, WordsAreCaseInsensitiveEverywhere) {
  const CliParams p = parse_flags("--preset GATYS --device CPU --precision FP32");
  EXPECT_EQ(p.preset, "gatys");
  EXPECT_EQ(p.options.optimizer, OptimizerKind::Lbfgs) << "the preset was applied";
  EXPECT_EQ(p.options.device, DeviceKind::Cpu);
  EXPECT_EQ(p.options.precision, Precision::Fp32);
  // --style-mask's word too (ALL was taken for a file name).
  EXPECT_EQ(parse_flags("--style-mask ALL --style-mask m.png").style_mask_paths,
            (std::vector<std::string>{"all", "m.png"}));
}

TEST(CliArgs, AbsurdNumbersAreRefusedWithTheFlagsName) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--size 0", "--size must be at least 16 pixels, got 0"},
      {"--size 100000", "--size 100000 is too large (at most 16384 pixels)"},
      {"--style-size 8", "--style-size must be between 16 and 16384"},
      {"--style-scale 0", "--style-scale must be a number in (0, 16]"},
      {"--min-size 600", "--min-size must be between 0 (automatic) and --size"},
      {"--threads -1", "--threads must be >= 0"},
      {"--batch -2", "--batch must be >= 0"},
      {"--print-every -1", "--print-every must be >= 0"},
      {"--save-every -1", "--save-every must be >= 0"},
      {"--iterations 0", "--iterations must be at least 1, got 0"},
      {"--iterations -5", "--iterations must be at least 1"},
      {"--initial-iterations -1", "--initial-iterations must be 0 (as --iterations) or more, got -1"},
      {"--style-weight -1", "--style-weight must be a finite number >= 0, got -1"},
      {"--tv-weight nan", "--tv-weight must be a finite number >= 0"},
      {"--content-weight inf", "--content-weight must be a finite number >= 0"},
      {"--lr -1", "--lr must be a finite number > 0"},
      {"--beta1 1", "--beta1 must be at least 0 and below 1, got 1; the default is 0.99"},
      {"--beta2 -0.5", "--beta2 must be at least 0 and below 1, got -0.5; the default is 0.999"},
      {"--eps 0", "--eps must be a finite number > 0"},
      {"--scales 11", "--scales must be between 1 and 10"},
      {"-s a.png --style-weights 0.7,0.3", "--style-weights gives 2 weights for 1 style image"},
      {"-s a.png -s b.png --style-weights 1",
       "--style-weights gives 1 weight for 2 style images; give one weight per style, in the order of --style"},
      {"-s a.png -s b.png --style-weights 1,-1", "--style-weights must be a finite number >= 0"},
      {"-s a.png -s b.png --style-weights 0,0", "--style-weights add up to 0"},
  };
  for (const auto& [command_line, message] : cases) {
    EXPECT_NE(option_error(command_line).find(message), std::string::npos)
        << command_line << " gave: " << option_error(command_line);
  }
  EXPECT_EQ(option_error("-s a.png -s b.png --style-weights 0.7,0.3 --size 16 --min-size 16"), "");
}

TEST(CliArgs, PresetsApplyAndExplicitFlagsWin) {
  CliParams p = parse_flags("--preset gatys --iterations 3");
  EXPECT_EQ(p.options.optimizer, OptimizerKind::Lbfgs);
  EXPECT_EQ(p.init, "noise");
  EXPECT_EQ(p.options.init, InitMode::Noise);
  ASSERT_EQ(p.options.content_layers.size(), 1u);
  EXPECT_EQ(p.options.content_layers[0].layer, "relu4_2");
  EXPECT_EQ(p.options.pooling, Pooling::Avg);
  EXPECT_DOUBLE_EQ(p.options.tv_weight, 0.0);
  EXPECT_DOUBLE_EQ(p.options.content_weight, 4e3);
  EXPECT_TRUE(p.gatys_balance) << "set from the content's size once it is read";
  EXPECT_EQ(p.options.iterations, 3) << "an explicit flag wins over the preset";
  EXPECT_FALSE(parse_flags("--preset gatys --content-weight 5").gatys_balance);
  EXPECT_FALSE(parse_flags("--preset gatys --content-layers relu3_1").gatys_balance);
  EXPECT_FALSE(parse_flags("--content-weight 5").gatys_balance);

  p = parse_flags("--preset gatys --optimizer adam --init content --tv-weight 2");
  EXPECT_EQ(p.options.optimizer, OptimizerKind::Adam);
  EXPECT_EQ(p.options.init, InitMode::Content);
  EXPECT_DOUBLE_EQ(p.options.tv_weight, 2.0);

  p = parse_flags("--preset fast");
  EXPECT_EQ(p.options.scales, 2);
  EXPECT_EQ(p.options.iterations, 160);
  EXPECT_EQ(p.options.initial_iterations, 60);
  EXPECT_DOUBLE_EQ(p.options.beta1, 0.95);
  EXPECT_DOUBLE_EQ(p.options.beta2, 0.9);
  EXPECT_DOUBLE_EQ(p.options.average, 0.9);
  EXPECT_EQ(p.options.pyramid, 3);
  EXPECT_TRUE(p.options.nesterov);
  EXPECT_DOUBLE_EQ(p.options.lr, 0.02);
  p = parse_flags("--preset fast --beta1 0.99 --beta2 0.999 --average 0 --no-nesterov");
  EXPECT_DOUBLE_EQ(p.options.beta1, 0.99) << "an explicit flag wins over the preset";
  EXPECT_DOUBLE_EQ(p.options.beta2, 0.999);
  EXPECT_DOUBLE_EQ(p.options.average, 0.0);
  EXPECT_FALSE(p.options.nesterov) << "--no-nesterov wins over the preset";
  p = parse_flags("--preset tutorial");
  EXPECT_EQ(p.options.iterations, 1000);
  EXPECT_EQ(preset_names(), (std::vector<std::string>{"tutorial", "gatys", "fast"}));
  EXPECT_THROW(apply_preset("picasso", p, {}), OptionError);
}

// A long run of the tutorial's schedule says, once timed, that --preset fast
// gets to a similar loss in about a fifth of the time; nothing for a short
// run or one whose schedule the user chose otherwise.
TEST(CliArgs, ALongTutorialRunSuggestsTheFastPreset) {
  const std::string hint = fast_preset_hint(parse_flags(""), 1.27);
  EXPECT_NE(hint.find("at 1.27 s an iteration, this run's 1000 iterations take about 21 min here; --preset fast"),
            std::string::npos)
      << hint;
  EXPECT_NE(fast_preset_hint(parse_flags(""), 5.02).find("about 1.4 h here"), std::string::npos);
  // A short iteration keeps its digits (it was "at 0.00 s an iteration").
  EXPECT_NE(fast_preset_hint(parse_flags("-n 100000"), 0.004).find("at 0.004 s an iteration"), std::string::npos);
  EXPECT_NE(fast_preset_hint(parse_flags("-n 300"), 0.6), "") << "3 minutes";
  EXPECT_EQ(fast_preset_hint(parse_flags("-n 300"), 0.59), "") << "under 3 minutes";
  EXPECT_EQ(fast_preset_hint(parse_flags(""), 0.1), "");
  for (const char* own :
       {"--preset tutorial", "--preset fast -n 1000 --scales 1", "--preset gatys", "--optimizer lbfgs", "--scales 2",
        "--average 0.9", "--pyramid 2", "--nesterov", "--resume out.png"}) {
    EXPECT_EQ(fast_preset_hint(parse_flags(own), 1.27), "") << own;
  }
}

// A long video of the tutorial's schedule says, after its first frame, what
// --preset fast changes for the rest: later frames' iterations (temporal
// frames), or each frame's schedule (independent frames).
TEST(CliArgs, ALongTutorialVideoSuggestsTheFastPreset) {
  const std::string video = "-c in.mp4 -s a.png ";
  const std::string hint = fast_video_hint(parse_video_flags(video), 119, 2.0 * 3600);
  EXPECT_EQ(hint,
            "--preset fast gives the other 119 frames 100 iterations each instead of 200: 50% of the time left, for a "
            "loss as low with as little flicker (README, \"Video\")");
  const std::string independent = fast_video_hint(parse_video_flags(video + "--temporal-weight 0"), 9, 600);
  EXPECT_NE(independent.find("--preset fast makes each of the other 9 frames coarse to fine: about a fifth of the "
                             "time left"),
            std::string::npos)
      << independent;
  EXPECT_NE(fast_video_hint(parse_video_flags(video + "--frame-iterations 150"), 9, 600).find("67% of the time left"),
            std::string::npos);
  EXPECT_EQ(fast_video_hint(parse_video_flags(video), 3, 179), "") << "under 3 minutes";
  for (const char* own : {"--preset tutorial", "--preset fast", "--preset fast --frame-iterations 200", "--scales 2",
                          "--frame-iterations 100", "--frame-iterations 50", "--nesterov"}) {
    EXPECT_EQ(fast_video_hint(parse_video_flags(video + own), 119, 2.0 * 3600), "") << own;
  }
}

// --preset gatys is the paper's alpha/beta = 1e-3 at every content size: the
// paper's objective, computed here from its definitions (sums, raw Gram
// matrices, 1/(4 N^2 M^2)), is a fixed multiple (beta / 4) of stylize's
// content and style losses weighted with gatys_content_weight(), for random
// features of the shapes relu4_2 and relu1_1..relu5_1 have at two sizes.
TEST(CliArgs, GatysPresetIsThePapersBalanceAtTheContentsSize) {
  torch::manual_seed(3);
  const double alpha = 1e-3, beta = 1.0;
  for (const auto& [height, width] : {std::pair<int64_t, int64_t>{64, 96}, {136, 80}}) {
    const auto features = [&](int64_t channels, int64_t factor) {
      return torch::rand({1, channels, height / factor, width / factor}, torch::kFloat64);
    };
    const torch::Tensor f = features(512, 8), p = features(512, 8);
    double paper = alpha * 0.5 * (f - p).square().sum().item<double>();
    double ours = gatys_content_weight(height, width, 512, 1.0) * content_loss(f, p).sum().item<double>();
    const std::vector<std::pair<int64_t, int64_t>> style_layers = {{64, 1}, {128, 2}, {256, 4}, {512, 8}, {512, 16}};
    for (const auto& [channels, factor] : style_layers) {
      const torch::Tensor g = features(channels, factor), a = features(channels, factor);
      const auto raw_gram = [](const torch::Tensor& x) {
        const torch::Tensor m = x.flatten(2)[0];
        return m.matmul(m.t());
      };
      const double n = static_cast<double>(channels), m = static_cast<double>(g.size(2) * g.size(3));
      paper += beta * 0.2 / (4 * n * n * m * m) * (raw_gram(g) - raw_gram(a)).square().sum().item<double>();
      ours += 1.0 * 0.2 * style_loss(g, gram_matrix(a)).sum().item<double>();
    }
    EXPECT_NEAR(paper / ours, beta / 4, 1e-6) << height << "x" << width;  // the losses are float32
  }
  EXPECT_NEAR(gatys_content_weight(512, 512, 512, 1.0), 4194.304, 1e-9) << "README's 4194 at 512x512";
  EXPECT_NEAR(gatys_content_weight(519, 517, 512, 2.0), 2 * 4194.304, 1e-9) << "three poolings round down";

  CliParams p = parse_flags("--preset gatys");
  EXPECT_NEAR(balance_gatys_preset(p, 384, 512, 512, LossUnits::Tutorial).options.content_weight, 2e-3 * 512 * 48 * 64,
              1e-9);
  EXPECT_EQ(balance_gatys_preset(p, 384, 512, 512, LossUnits::Normalized).options.content_weight, 4e3)
      << "the paper's balance is defined in tutorial units only";
  p = parse_flags("--preset gatys --content-weight 7");
  EXPECT_EQ(balance_gatys_preset(p, 384, 512, 512, LossUnits::Tutorial).options.content_weight, 7.0);
}

TEST(CliArgs, HelpShowsEveryFlagWithItsDefault) {
  CliParams params;
  CLI::App app;
  build_parser(app, params);
  const std::string help = app.help();
  for (const std::string needle :
       {"--content", "--style-weight", "0.01", "relu5_2", "relu1_1,relu2_1", "--tv-weight", "30", "1000",
        "{auto,cpu,cuda}=auto", "{adam,lbfgs}=adam", "{l1,l2}=l1", "=out.png", "{auto,8,16}=auto", "--keep-profile"}) {
    EXPECT_NE(help.find(needle), std::string::npos) << needle << "\n" << help;
  }
  // In the reader's words, not the parser's: no "{false}" after a negatable
  // flag, no "{auto->-1}", no "=[]" after a list flag.
  EXPECT_NE(help.find("-s,--style TEXT ..."), std::string::npos) << help;
  EXPECT_EQ(help.find("=[]"), std::string::npos) << help;
  EXPECT_NE(help.find("--nesterov,--no-nesterov "), std::string::npos) << help;
  EXPECT_NE(help.find("--tile N|auto=0 "), std::string::npos) << help;
  EXPECT_EQ(help.find("{false}"), std::string::npos) << help;
  EXPECT_EQ(help.find("->"), std::string::npos) << help;
  EXPECT_THROW(app.parse("--version", false), CLI::CallForVersion);
}

// What stylize prints for `line`, parsed by `app` (empty when it parses).
std::string failure_of(CLI::App& app, const std::string& line) {
  try {
    app.parse(line, false);
  } catch (const CLI::ParseError& e) {
    return usage_failure(&app, e);
  }
  return "";
}

TEST(CliArgs, ParserErrorsReadAsStylizesOwn) {
  CliParams params;
  CLI::App app;
  build_parser(app, params);
  EXPECT_EQ(failure_of(app, "--size abc"),
            "error: Could not convert: --size = abc (expected a number of the kind this flag takes, within its "
            "range)\nstylize --help lists the flags and their values\n");
  // Integers are read in decimal, as written: a leading zero is no octal
  // (--size 0256 was 174 px, -n 010 8 iterations) and 0x40 no number (it was 64).
  {
    CliParams decimal;
    CLI::App decimal_app;
    build_parser(decimal_app, decimal);
    EXPECT_EQ(failure_of(decimal_app, "--size 0256 -n 010 --print-every 00 --tile 064"), "");
    EXPECT_EQ(decimal.size, 256);
    EXPECT_EQ(decimal.options.iterations, 10);
    EXPECT_EQ(decimal.print_every, 0);
    EXPECT_EQ(decimal.options.tile, 64);
  }
  EXPECT_EQ(failure_of(app, "--tile 0x40").rfind("error: Could not convert: --tile = x40", 0), 0u)
      << failure_of(app, "--tile 0x40");
  // Two flags that exclude each other: say to give one.
  EXPECT_NE(failure_of(app, "-q -v").find("excludes --verbose; give one of them"), std::string::npos)
      << failure_of(app, "-q -v");
  // A range is said as the flag takes it (CLI11's own check printed 0 to 1.8e308 in full).
  EXPECT_EQ(failure_of(app, "--seed -1"),
            "error: --seed: expected a whole number from 0 to 18446744073709551615, got -1\nstylize --help lists the "
            "flags and their values\n");
  EXPECT_EQ(failure_of(app, "--seed 1.5").rfind("error: --seed: expected a whole number", 0), 0u);
  VideoParams video;
  CLI::App video_app;
  build_video_parser(video_app, video);
  const std::string unknown = failure_of(video_app, "--frobnicate");
  EXPECT_EQ(unknown.rfind("error: ", 0), 0u) << unknown;
  EXPECT_NE(unknown.find("\nstylize video --help lists"), std::string::npos) << unknown;
  // A flag of stylize that the sub-command does not take: why.
  BatchParams batch;
  CLI::App batch_app;
  build_batch_parser(batch_app, batch);
  // A misspelt flag: the nearest one (at most 2 edits); an image without a flag: -c and -s.
  // -q and -v contradict each other: said, not settled silently for one.
  EXPECT_EQ(failure_of(app, "-q -v").rfind("error: --quiet excludes --verbose", 0), 0u) << failure_of(app, "-q -v");
  EXPECT_NE(failure_of(app, "--iteration 5").find("; did you mean --iterations?\n"), std::string::npos)
      << failure_of(app, "--iteration 5");
  EXPECT_NE(failure_of(app, "--stlye-weight=3").find("; did you mean --style-weight?"), std::string::npos)
      << failure_of(app, "--stlye-weight=3");
  EXPECT_EQ(failure_of(app, "--frobnicate").find("did you mean"), std::string::npos) << failure_of(app, "--frobnicate");
  EXPECT_NE(failure_of(app, "photo.jpg painting.jpg")
                .find("; give images with -c (the content) and -s (the style): -c photo.jpg -s painting.jpg\n"),
            std::string::npos)
      << failure_of(app, "photo.jpg painting.jpg");
  const std::string omitted = failure_of(batch_app, "-c a --resume x.png");
  EXPECT_NE(omitted.find("; --resume is not a flag of stylize batch: stylize batch resumes unfinished jobs by itself"),
            std::string::npos)
      << omitted;
}

// Parses `command_line` as `stylize batch` does (without running it).
BatchParams parse_batch_flags(const std::string& command_line) {
  BatchParams params;
  CLI::App app;
  build_batch_parser(app, params);
  app.parse(command_line, /*program_name_included=*/false);
  finish_parse(app, params.run);
  return params;
}

TEST(BatchArgs, ContentsStylesTemplateShardAndEveryRunFlag) {
  const BatchParams p = parse_batch_flags(
      "--content photos/ extra.jpg -c more.png --style paintings/ -s x.png --output-template out/{content}_{style}.png "
      "--shard 2/5 --size 300 -n 42 --optimizer lbfgs --threads 3 --save-every 7 --preset fast --weights w.h5 -q");
  EXPECT_EQ(p.contents, (std::vector<std::string>{"photos/", "extra.jpg", "more.png"}));
  EXPECT_EQ(p.run.style_paths, (std::vector<std::string>{"paintings/", "x.png"}));
  EXPECT_EQ(p.run.output_template, "out/{content}_{style}.png");
  EXPECT_EQ(p.shard, "2/5");
  EXPECT_EQ(p.run.size, 300);
  EXPECT_EQ(p.run.options.iterations, 42);  // explicit, so --preset fast does not override it
  EXPECT_EQ(p.run.options.optimizer, OptimizerKind::Lbfgs);
  EXPECT_EQ(p.run.threads, 3);
  EXPECT_EQ(p.run.save_every, 7);
  EXPECT_EQ(p.run.weights_path, "w.h5");
  EXPECT_TRUE(p.run.quiet);
  EXPECT_FALSE(p.run.output_given);
  EXPECT_TRUE(parse_batch_flags("-c a.png -s b.png").shard.empty()) << "no --shard: from the environment";
}

TEST(BatchArgs, FlagsOfOneRunsOutputsAreRefused) {
  // Outputs come from the template, resuming is automatic, each job has one style.
  for (const std::string flag :
       {"-o o.png", "--output o.png", "--each-style", "--batch 2", "--resume r.png", "--style-weights 0.5,0.5",
        "--report r.json", "--plot p.png", "--sheet s.png", "--estimate"}) {
    EXPECT_THROW(parse_batch_flags("-c a.png -s b.png " + flag), CLI::ParseError) << flag;
  }
  BatchParams params;
  CLI::App app;
  build_batch_parser(app, params);
  const std::string help = app.help();
  for (const std::string needle : {"--shard", "--output-template", "SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX",
                                   "--content", "--style-weight", "--iterations", "checkpoint record"}) {
    EXPECT_NE(help.find(needle), std::string::npos) << needle << "\n" << help;
  }
  EXPECT_EQ(help.find("--each-style"), std::string::npos) << help;
  EXPECT_EQ(help.find("--resume"), std::string::npos) << help;
  // The images come first, the photos before the paintings, as in stylize --help.
  const size_t images = help.find("Images:"), content = help.find("-c,--content"), style = help.find("-s,--style");
  ASSERT_NE(images, std::string::npos) << help;
  EXPECT_LT(images, content) << help;
  EXPECT_LT(content, style) << help;
  EXPECT_EQ(help.find("--", images + 1), help.find("--content", images)) << "the first flag under Images:\n" << help;
}

// stylize batch's record of an output's settings (checkpoint.hpp): a setting
// that makes another image is a difference, named by its flag as the flag takes
// it; another way of writing the same run, or how it is computed, is none.
TEST(BatchArgs, TheSettingsRecordComparesWhatMakesAnotherImage) {
  test::TempDir dir;
  const std::string output = dir.file("out.png");
  const RecordedWeights weights{"vgg19.safetensors", "torchvision"};
  const std::string base = "-c a.png -s b.png --size 32 -n 5 ";
  const auto differences = [&](const std::string& recorded, const std::string& now, MadeState state) {
    write_made_record(output, parse_batch_flags(base + recorded).run, weights);
    return made_differences(output, parse_batch_flags(base + now).run, weights, state);
  };
  const auto differs = [&](const std::string& recorded, const std::string& now) {
    return differences(recorded, now, MadeState::Done);
  };
  // The same run: layers in another order or with proportional weights,
  // --loss-units auto as these weights resolve it, --initial-iterations or
  // --min-size with one scale, --seed without noise, Adam's settings with
  // L-BFGS, the computation.
  EXPECT_EQ(differs("", "--style-layers relu5_1,relu4_1,relu3_1,relu2_1,relu1_1"), "");
  EXPECT_EQ(differs("--style-layers relu1_1:2,relu2_1:4", "--style-layers relu2_1,relu1_1:0.5"), "");
  EXPECT_EQ(differs("", "--loss-units normalized"), "");
  EXPECT_EQ(differs("", "--initial-iterations 3 --min-size 16"), "");
  EXPECT_EQ(differs("", "--seed 7"), "");
  EXPECT_EQ(differs("--optimizer lbfgs --lr 0.5", "--optimizer lbfgs --beta1 0.5"), "");
  EXPECT_EQ(differs("", "--tile 64 --precision fp32 --threads 1 --bit-depth auto"), "");
  // Another image, each named by its flag.
  EXPECT_EQ(differs("", "--init noise"), "--init content (this run: noise)");
  EXPECT_EQ(differs("--init noise --seed 1", "--init noise --seed 2"), "--seed 1 (this run: 2)");
  EXPECT_EQ(differs("", "--loss-units tutorial"), "--loss-units normalized (this run: tutorial)");
  EXPECT_EQ(differs("", "--style-layers relu1_1,relu2_1:0.5"),
            "--style-layers relu1_1,relu2_1,relu3_1,relu4_1,relu5_1 (this run: relu1_1,relu2_1:0.5)");
  EXPECT_EQ(differs("", "--beta1 0.9 --nesterov"), "--beta1 0.99 (this run: 0.9), --nesterov off (this run: on)");
  EXPECT_EQ(differs("", "--average 0.9 --pyramid 2 --tolerance 0.001 --adam-epsilon pytorch --eps 0.5"),
            "--adam-epsilon tensorflow (this run: pytorch), --average 0.0 (this run: 0.9), --eps 0.1 (this run: 0.5), "
            "--pyramid 0 (this run: 2), --tolerance 0.0 (this run: 0.001)");
  EXPECT_EQ(differs("--scales 2", "--scales 2 --initial-iterations 3"), "--initial-iterations 5 (this run: 3)");
  EXPECT_EQ(differs("--scales 2", "--scales 2 --min-size 24"), "--min-size 0 (this run: 24)");
  EXPECT_EQ(differs("--bit-depth 8", "--bit-depth 16"), "--bit-depth 8 (this run: 16)");
  EXPECT_EQ(differs("", "--keep-profile"), "--keep-profile off (this run: on)");
  EXPECT_EQ(differs("", "--optimizer lbfgs"), "--optimizer adam (this run: lbfgs)");
  // An unfinished output goes on to another -n: that alone is no difference.
  EXPECT_EQ(differences("", "-n 50", MadeState::Begun), "");
  EXPECT_EQ(differences("--scales 2", "--scales 2 --initial-iterations 3 -n 8", MadeState::Begun), "");
  EXPECT_EQ(differences("", "-n 50 --lr 0.1", MadeState::Begun), "--lr 0.02 (this run: 0.1)");
  // --loss-units auto is compared once the weights' convention is known.
  write_made_record(output, parse_batch_flags(base + "--loss-units tutorial").run, weights);
  EXPECT_EQ(made_differences(output, parse_batch_flags(base).run, {"vgg19.safetensors", ""}), "");
  // A record of nothing is not agreement.
  test::write_file(made_record_path(output), "{}");
  EXPECT_EQ(made_differences(output, parse_batch_flags(base).run, weights),
            "an unreadable record, " + made_record_path(output));
}

// The weights a record names, before they are read: the file's name and its
// input convention from its header.
TEST(BatchArgs, RecordedWeightsAreTheFilesNameAndConvention) {
  CliParams params;
  params.weights_path = test::fixture("keras_vgg19_notop_tiny.h5");
  RecordedWeights found = recorded_weights(params);
  EXPECT_EQ(found.file_name, "keras_vgg19_notop_tiny.h5");
  EXPECT_EQ(found.convention, "caffe");
  params.weights_path = test::fixture("vgg19_caffe_tiny.converted.safetensors");
  EXPECT_EQ(recorded_weights(params).convention, "caffe") << "from its stylize.input_convention entry";
  params.weights_path = test::fixture("vgg19_tiny.safetensors");
  EXPECT_EQ(recorded_weights(params).convention, "torchvision");
  params.weights_path = test::fixture("vgg19_caffe_tiny.pth");
  found = recorded_weights(params);
  EXPECT_EQ(found.file_name, "vgg19_caffe_tiny.pth");
  EXPECT_EQ(found.convention, "") << "a file the load refuses";
  params.weights_path = "/nonexistent/w.safetensors";
  found = recorded_weights(params);
  EXPECT_EQ(found.file_name, "w.safetensors");
  EXPECT_EQ(found.convention, "");
}

TEST(WordTables, EveryEnumRoundTripsThroughItsWords) {
  EXPECT_EQ(words<DeviceKind>(), (std::vector<std::string>{"auto", "cpu", "cuda"}));
  EXPECT_EQ(words<Precision>(), (std::vector<std::string>{"auto", "fp32", "bf16", "fp16"}));
  EXPECT_EQ(words<PreserveColors>(), (std::vector<std::string>{"none", "luminance", "histogram"}));
  EXPECT_EQ(to_string(StopReason::NumericFailure), "numeric-failure");
  EXPECT_EQ(to_string(TvNorm::L2), "l2");
  EXPECT_EQ(parse<OptimizerKind>("LBFGS"), OptimizerKind::Lbfgs);
  EXPECT_EQ(parse<Pooling>("avg"), Pooling::Avg);
  EXPECT_FALSE(parse<Pooling>("average").has_value());
  EXPECT_FALSE(parse<Pooling>("").has_value());
  const auto round_trip = [](auto value) { return parse<decltype(value)>(to_string(value)) == value; };
  for (const auto v : {InitMode::Content, InitMode::Noise, InitMode::Style, InitMode::Image})
    EXPECT_TRUE(round_trip(v));
  for (const auto v : {StopReason::Finished, StopReason::Interrupted, StopReason::Converged})
    EXPECT_TRUE(round_trip(v));
}

TEST(ExitCodes, OneTableMapsEveryErrorKind) {
  EXPECT_EQ(exit_code_for(OptionError("x")), 2);
  EXPECT_EQ(exit_code_for(ImageError("x")), 3);
  EXPECT_EQ(exit_code_for(WeightsError("x")), 4);
  EXPECT_EQ(exit_code_for(FetchError("x")), 4);
  EXPECT_EQ(exit_code_for(DeviceError("x")), 5);
  EXPECT_EQ(exit_code_for(OutputError("x")), 6);
  EXPECT_EQ(exit_code_for(ResourceError("x")), 8);
  EXPECT_EQ(exit_code_for(Error("x")), 1);
  EXPECT_EQ(exit_code_for(std::runtime_error("x")), 1);
  // An allocation that failed after the memory check (LibTorch's, CUDA's,
  // OpenCV's, the standard library's): not enough memory, not a bug.
  EXPECT_EQ(exit_code_for(std::bad_alloc()), 8);
  EXPECT_EQ(exit_code_for(std::runtime_error("[enforce fail at alloc_cpu.cpp:75] . DefaultCPUAllocator: can't "
                                             "allocate memory: you tried to allocate 3221225472 bytes.\nframe #0")),
            8);
  EXPECT_EQ(exit_code_for(std::runtime_error("CUDA out of memory. Tried to allocate 2.00 GiB")), 8);
  EXPECT_EQ(exit_code_for(std::runtime_error("OpenCV(4.6.0) alloc.cpp:73: error: (-4:Insufficient memory) Failed "
                                             "to allocate 3221225472 bytes in function 'OutOfMemoryError'")),
            8);
  EXPECT_EQ(exit_code_for(std::runtime_error("a stack trace\nframe #3: DefaultCPUAllocator::allocate")), 1)
      << "only the message's first line says what failed";
}

TEST(Jobs, EachStyleNamesOutputsByTemplateAndRefusesCollisions) {
  CliParams p =
      parse_flags("-c dir/photo.jpg -s a.png -s b/c.jpg --each-style --output-template out/{content}_{style}_{n}.png");
  const std::vector<Job> jobs = make_jobs(p);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].output, "out/photo_a_1.png");
  EXPECT_EQ(jobs[1].output, "out/photo_c_2.png");
  EXPECT_EQ(jobs[1].styles, (std::vector<size_t>{1}));
  EXPECT_EQ(jobs[1].label, "photo_c_2.png");
  p.output_template = "same.png";
  try {
    make_jobs(p);
    FAIL();
  } catch (const OptionError& e) {
    EXPECT_NE(std::string(e.what()).find("{style}"), std::string::npos) << e.what();
  }
  // With {style}: two styles whose names differ only in their extension (it
  // said to include {style}, which the template did).
  p = parse_flags("-c photo.jpg -s st/a.png -s st/a.bmp --each-style --output-template out/{style}.png");
  try {
    make_jobs(p);
    FAIL();
  } catch (const OptionError& e) {
    EXPECT_EQ(std::string(e.what()),
              "--output-template 'out/{style}.png' gives the styles 'st/a.png' and 'st/a.bmp' the same output "
              "'out/a.png'; their file names differ only in their folder or extension: include {n} too, or rename one");
  }
  // Without --each-style: one job blending every style.
  const std::vector<Job> blend = make_jobs(parse_flags("-c x.png -s a.png -s b.png -o mix.png"));
  ASSERT_EQ(blend.size(), 1u);
  EXPECT_EQ(blend[0].styles, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(blend[0].output, "mix.png");
}

TEST(Jobs, OutputsMustHoldTheBitDepthAskedForBeforeAnyWork) {
  test::TempDir dir;
  OutputFolders folders;
  const auto params = [&](const std::string& output, const std::string& flags) {
    return parse_flags("-c " + dir.file("c.png") + " -s " + dir.file("s.png") + " -o " + dir.file(output) + " " +
                       flags);
  };
  for (const auto& [output, flags] : std::vector<std::pair<std::string, std::string>>{{"out.png", "--bit-depth 16"},
                                                                                      {"out.tif", "--bit-depth 16"},
                                                                                      {"out.jpg", "--bit-depth 8"},
                                                                                      {"out.jpg", "--bit-depth auto"},
                                                                                      {"out.webp", ""}}) {
    const CliParams p = params(output, flags);
    EXPECT_NO_THROW(check_outputs(make_jobs(p), p, folders)) << output << " " << flags;
  }
  for (const std::string output : {"out.jpg", "out.webp", "out.bmp"}) {
    const CliParams p = params(output, "--bit-depth 16");
    try {
      check_outputs(make_jobs(p), p, folders);
      ADD_FAILURE() << output << " with --bit-depth 16 was accepted";
    } catch (const OutputError& e) {
      EXPECT_NE(std::string(e.what()).find("holds 8 bits per channel, not 16; write .png or .tif"), std::string::npos)
          << e.what();
    }
  }
  // Every output of --each-style is checked.
  const CliParams each =
      params("x.png", "-s b.png --each-style --bit-depth 16 --output-template " + dir.file("{n}.jpg"));
  EXPECT_THROW(check_outputs(make_jobs(each), each, folders), OutputError);
}

// --style a.jpg,b.jpg, written as the layer lists are, names no file: said
// with the way to give two styles.
TEST(Jobs, StylesWrittenAsOneCommaListAreExplained) {
  test::TempDir dir;
  save_image(test::pattern_image(8, 8, 0.5), dir.file("a.png"));
  save_image(test::pattern_image(8, 8, 0.6), dir.file("b.png"));
  const std::string a = dir.file("a.png"), b = dir.file("b.png");
  CliParams p = parse_flags("-c x.png -s " + a + "," + b);
  try {
    expand_style_folders(p);
    FAIL() << "expected an OptionError";
  } catch (const OptionError& e) {
    EXPECT_EQ(std::string(e.what()), "--style '" + a + "," + b +
                                         "': there is no such file, but there are 2 style images of these names; "
                                         "give each as a value of its own: --style " +
                                         a + " " + b);
  }
  // A list of which a part is missing is a missing file (said when it is read),
  // and a file whose name has a comma is a style like any other.
  p = parse_flags("-c x.png -s " + a + "," + dir.file("c.png"));
  EXPECT_NO_THROW(expand_style_folders(p));
  fs::create_directories(fs::path(a + "," + b).parent_path());  // "<dir>/a.png,<dir>", holding b.png
  save_image(test::pattern_image(8, 8, 0.7), a + "," + b);
  p = parse_flags("-c x.png -s " + a + "," + b);
  expand_style_folders(p);
  EXPECT_EQ(p.style_paths, (std::vector<std::string>{a + "," + b}));
}

TEST(Jobs, AStyleFolderStandsForItsImagesAndTurnsOnEachStyle) {
  test::TempDir dir;
  fs::create_directory(dir.file("styles"));
  save_image(test::pattern_image(8, 8, 0.5), dir.file("styles/b.png"));
  save_image(test::pattern_image(8, 8, 0.6), dir.file("styles/a.jpg"));
  test::write_file(dir.file("styles/notes.txt"), "not an image");
  CliParams p = parse_flags("-c x.png -s one.png -s " + dir.file("styles"));
  expand_style_folders(p);
  EXPECT_TRUE(p.each_style);
  EXPECT_EQ(p.style_paths, (std::vector<std::string>{"one.png", dir.file("styles/a.jpg"), dir.file("styles/b.png")}));
  fs::create_directory(dir.file("empty"));
  p = parse_flags("-c x.png -s " + dir.file("empty"));
  EXPECT_THROW(expand_style_folders(p), ImageError);
}

TEST(RunProgress, LinesKeepTheirDocumentedShapeAndFollowTheTerms) {
  LossValues values;
  values.total = 1.24e6;
  values.terms = {{"style", 5.8e5}, {"content", 6.4e5}, {"tv", 2.1e4}};
  EXPECT_EQ(progress_line(100, 1000, values, 0.42),
            "iter 100/1000  total 1.24e+06  style 5.80e+05  content 6.40e+05  tv 2.10e+04  0.42 s/it");
  values.terms.push_back({"temporal", 3.0});
  EXPECT_EQ(progress_line(1, 2, values, 1.5),
            "iter 1/2  total 1.24e+06  style 5.80e+05  content 6.40e+05  tv 2.10e+04  temporal 3.00e+00  1.50 s/it");
  // --tolerance: the plateau test's measure once there is one.
  EXPECT_EQ(progress_line(60, 300, values, 0.25, 0.0042),
            "iter 60/300  total 1.24e+06  style 5.80e+05  content 6.40e+05  tv 2.10e+04  temporal 3.00e+00  0.25 s/it  "
            "drop 0.42%");
  EXPECT_EQ(progress_line(60, 300, values, 0.25, -1), progress_line(60, 300, values, 0.25));
}

// The bar's ETA is the run's: coarse to fine, a later scale's iterations
// cost more by their pixels. (It was the scale's: "ETA 0:10" at the end of
// --preset fast's first scale, with 2:40 of the second to come.)
TEST(RunProgress, TheEtaCountsTheLaterScalesByTheirPixels) {
  // --preset fast at 512 px: 60 iterations at 256 px, then 160 at 512.
  const std::vector<int> sizes{256, 512}, iterations{60, 160};
  // Iteration 20 of the first at 0.25 s: 40 more, then 160 at 4x the pixels.
  EXPECT_DOUBLE_EQ(seconds_left(0.25, 1, 20, sizes, iterations), 40 * 0.25 + 160 * 1.0);
  // At the last scale only its own iterations remain.
  EXPECT_DOUBLE_EQ(seconds_left(1.0, 2, 60, sizes, iterations), 100.0);
  // Three scales, a non-square ratio.
  EXPECT_DOUBLE_EQ(seconds_left(0.1, 1, 10, {100, 200, 300}, {10, 10, 10}), 0.0 + 10 * 0.4 + 10 * 0.9);
  EXPECT_DOUBLE_EQ(seconds_left(0.5, 1, 900, {512}, {1000}), 50.0);
}

// Times as the progress bar writes them, and as a long run's hint and
// --estimate say them.
TEST(RunProgress, DurationsReadAsOneSaysThem) {
  EXPECT_EQ(format_duration(65), "1:05");
  EXPECT_EQ(format_duration(3725), "1:02:05");
  EXPECT_EQ(rough_duration(170), "3 min");
  EXPECT_EQ(rough_duration(51702), "14.4 h");
}

// --estimate's probe: a warm-up and three counted iterations per scale while
// iterations are short; a long one (a tiled print-size iteration takes
// minutes) is counted at once and ends the probe, the larger scales then
// extrapolated by their pixel count.
TEST(EstimateTimes, ShortIterationsAreMeasuredAfterAWarmUpALongOneEndsTheProbe) {
  IterationTimes one({512});
  EXPECT_TRUE(one.record(1, 1, 0.9));  // the warm-up, not counted
  EXPECT_TRUE(one.record(1, 2, 0.2));
  EXPECT_TRUE(one.record(1, 3, 0.3));
  EXPECT_FALSE(one.record(1, 4, 0.25));
  EXPECT_FALSE(one.record(1, 5, 0.25)) << "complete stays complete";
  EXPECT_EQ(one.per_iteration(), std::vector<double>{0.25});
  EXPECT_EQ(one.measured_scales(), 1);

  IterationTimes scales({256, 512});
  for (int i = 1; i <= IterationTimes::kProbeIterations; ++i) {
    EXPECT_TRUE(scales.record(1, i, 0.1)) << "a coarse scale does not end the probe";
  }
  EXPECT_TRUE(scales.record(2, 1, 1.0));
  EXPECT_TRUE(scales.record(2, 2, 0.4));
  EXPECT_TRUE(scales.record(2, 3, 0.5));
  EXPECT_FALSE(scales.record(2, 4, 0.6));
  EXPECT_EQ(scales.per_iteration(), (std::vector<double>{0.1, 0.5}));
  EXPECT_EQ(scales.measured_scales(), 2);

  // A long first iteration at the last scale: counted, and the probe ends.
  IterationTimes last({512, 4096});
  for (int i = 1; i <= IterationTimes::kProbeIterations; ++i) last.record(1, i, 2.0);
  EXPECT_FALSE(last.record(2, 1, 150.0));
  EXPECT_EQ(last.per_iteration(), (std::vector<double>{2.0, 150.0}));
  EXPECT_EQ(last.measured_scales(), 2);

  // A long iteration at a coarse scale: the finer ones are not run.
  IterationTimes coarse({1024, 2048, 4096});
  EXPECT_FALSE(coarse.record(1, 1, IterationTimes::kLongIteration));
  EXPECT_EQ(coarse.measured_scales(), 1);
  EXPECT_EQ(coarse.per_iteration(), (std::vector<double>{10.0, 40.0, 160.0}));

  // Interrupted during the first warm-up: nothing measured.
  IterationTimes none({512});
  EXPECT_TRUE(none.record(1, 1, 0.5));
  EXPECT_TRUE(none.per_iteration().empty());
  EXPECT_EQ(none.measured_scales(), 0);
}

// out.png.adam holds Adam's moments and, with --average, the last iterate and
// the average's sum and weight; a file whose average part does not fit (shapes
// that differ) is not used at all, nor one of another iteration.
// Where a run stopped, with its scale's count. A run resumed past an earlier
// scale's count (a lowered --initial-iterations) and stopped while the next
// scale's targets were computed stands there: said "past its 30", not
// "iteration 74/30".
TEST(StopPoint, SaysTheIterationWithItsScalesCount) {
  StylizeOptions o;
  o.iterations = 160;
  EXPECT_EQ(stop_point(o, 0, 40), "iteration 40/160");
  o.scales = 2;
  o.initial_iterations = 30;
  o.iterations = 60;
  EXPECT_EQ(stop_point(o, 0, 12), "iteration 12/30 of scale 1/2");
  EXPECT_EQ(stop_point(o, 0, 30), "iteration 30/30 of scale 1/2");
  EXPECT_EQ(stop_point(o, 1, 40), "iteration 40/60 of scale 2/2");
  EXPECT_EQ(stop_point(o, 0, 74), "iteration 74 of scale 1/2, past its 30");
}

TEST(MomentsFile, KeepsTheIterateAndTheAverageAndRefusesOneThatDoesNotFit) {
  const test::TempDir dir;
  const std::string image = dir.file("out.png");
  AdamState state;
  state.moments.push_back({torch::rand({1, 3, 4, 5}), torch::rand({1, 3, 4, 5}), 7});
  state.iterate = torch::rand({1, 3, 4, 5});
  state.average_sum = torch::rand({1, 3, 4, 5});
  state.average_weight = 0.52;
  write_moments(image, 7, state);
  const AdamState read = read_moments(image, 7);
  ASSERT_EQ(read.moments.size(), 1u);
  EXPECT_TRUE(torch::equal(read.moments[0].second, state.moments[0].second));
  EXPECT_EQ(read.moments[0].steps, 7);
  ASSERT_TRUE(read.iterate.defined() && read.average_sum.defined());
  EXPECT_TRUE(torch::equal(read.iterate, state.iterate));
  EXPECT_TRUE(torch::equal(read.average_sum, state.average_sum));
  EXPECT_DOUBLE_EQ(read.average_weight, 0.52);
  EXPECT_TRUE(read_moments(image, 8).moments.empty()) << "another iteration's";

  AdamState no_average;  // without --average: the moments and the iterate
  no_average.moments = state.moments;
  no_average.iterate = state.iterate;
  write_moments(image, 7, no_average);
  const AdamState plain = read_moments(image, 7);
  EXPECT_EQ(plain.moments.size(), 1u);
  ASSERT_TRUE(plain.iterate.defined());
  EXPECT_TRUE(torch::equal(plain.iterate, state.iterate));
  EXPECT_FALSE(plain.average_sum.defined());

  AdamState moments_only;  // an older stylize's file
  moments_only.moments = state.moments;
  write_moments(image, 7, moments_only);
  const AdamState older = read_moments(image, 7);
  EXPECT_EQ(older.moments.size(), 1u);
  EXPECT_FALSE(older.iterate.defined());

  state.average_sum = torch::rand({1, 3, 5, 5});
  write_moments(image, 7, state);
  EXPECT_TRUE(read_moments(image, 7).moments.empty());
}

// stylize video's frame interrupted within its run: its image (16 bits a
// channel), record and Adam's state round-trip beside the frames; a garbled
// record or image is not used (the frame starts again), and removing it
// leaves none of the three files.
TEST(PartialFrame, RoundTripsAndIsNotUsedWhenGarbled) {
  const test::TempDir dir;
  const std::string pattern = dir.file("frame_%05d.png"), path = partial_frame_path(pattern);
  EXPECT_EQ(path, dir.file(".frame_%05d.png.partial.png"));
  PartialFrame partial;
  partial.frame = 3;
  partial.scales = 2;
  partial.scales_done = 1;
  partial.iteration = 17;
  partial.image = torch::rand({1, 3, 6, 8});
  partial.state.moments.push_back({torch::rand({1, 3, 6, 8}), torch::rand({1, 3, 6, 8}), 17});
  partial.state.iterate = partial.image;
  write_partial_frame(pattern, partial);
  const std::optional<PartialFrame> read = read_partial_frame(pattern);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->frame, 3);
  EXPECT_EQ(read->scales, 2);
  EXPECT_EQ(read->scales_done, 1);
  EXPECT_EQ(read->iteration, 17);
  ASSERT_EQ(read->image.sizes(), partial.image.sizes());
  EXPECT_LE((read->image - partial.image).abs().max().item<float>(), 0.51 / 65535) << "16 bits";
  ASSERT_EQ(read->state.moments.size(), 1u);
  EXPECT_TRUE(torch::equal(read->state.iterate, partial.image));

  test::write_file(path + ".json", R"({"frame": 0, "scale": 1, "scales": 1, "iteration": 4})");
  EXPECT_FALSE(read_partial_frame(pattern).has_value());
  write_partial_frame(pattern, partial);
  test::write_file(path, "not an image");
  EXPECT_FALSE(read_partial_frame(pattern).has_value());
  remove_partial_frame(pattern);
  for (const std::string& file : {path, path + ".json", path + ".adam"}) EXPECT_FALSE(fs::exists(file)) << file;
  EXPECT_FALSE(read_partial_frame(pattern).has_value());
}

}  // namespace
}  // namespace stylize::cli
