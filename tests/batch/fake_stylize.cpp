// A stand-in for `stylize batch` in the cluster tests (tests/slurm): the same
// jobs, shards, claims and checkpoint records as the real worker, with an
// "optimization" that only sleeps, so the scheduler harness is tested without
// LibTorch. Each iteration takes --iteration-ms; SIGTERM or SIGINT saves the
// unfinished job (record first, then the image) and exits 128 + signal, as
// stylize does. A repeated SIGTERM is the same request (a scheduler may
// deliver it to the process twice).
//
//   fake_stylize batch --content DIR|FILE... --style DIR|FILE... --output-template T
//                      [--shard I/N] [-n ITERATIONS] [--iteration-ms MS] [--threads N] [--done-log FILE]
//
// Each finished output holds one line: "content=.. style=.. from=K to=N"
// (K > 0: resumed from a checkpoint record). --done-log gets one line per job
// this process finished: "OUTPUT from=K host=H pid=P" (default: $FAKE_STYLIZE_DONE_LOG).
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "stylize/batch/claims.hpp"
#include "stylize/batch/jobs.hpp"
#include "stylize/errors.hpp"

namespace fs = std::filesystem;
using namespace stylize::batch;

namespace {

std::atomic<int> g_signal{0};
extern "C" void on_signal(int signal) {
  int none = 0;
  g_signal.compare_exchange_strong(none, signal);
}

struct Settings {
  std::vector<std::string> contents, styles;
  std::string output_template, shard, done_log;
  int iterations = 20;
  int iteration_ms = 50;
};

void write_atomically(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream file(temporary, std::ios::trunc);
    file << text;
  }
  fs::rename(temporary, path);
}

int start_iteration(const Job& job, OutputState state) {
  if (state != OutputState::Unfinished) return 0;
  std::ifstream file(checkpoint_record_path(job.output));
  const auto record = nlohmann::json::parse(file, nullptr, false);
  return record.is_object() ? record.value("iteration", 0) : 0;
}

// Runs one claimed job; false when interrupted (its state is saved).
bool run_job(const Job& job, Claim& claim, const Settings& settings) {
  const int from = start_iteration(job, claim.state());
  std::cout << "job " << job.number << " " << job.output << ": iterations " << from << ".." << settings.iterations
            << (from > 0 ? " (resumed)" : "") << std::endl;
  for (int iteration = from; iteration < settings.iterations; ++iteration) {
    if (g_signal.load() != 0) {
      write_atomically(checkpoint_record_path(job.output), nlohmann::json{{"iteration", iteration}}.dump() + "\n");
      write_atomically(job.output, "unfinished at iteration " + std::to_string(iteration) + "\n");
      std::cout << "interrupted at iteration " << iteration << "; saved " << job.output << std::endl;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(settings.iteration_ms));
  }
  if (!claim.held()) throw stylize::OutputError("lost the claim on " + job.output);
  write_atomically(job.output, "content=" + job.content + " style=" + job.style + " from=" + std::to_string(from) +
                                   " to=" + std::to_string(settings.iterations) + "\n");
  fs::remove(checkpoint_record_path(job.output));
  if (!settings.done_log.empty()) {
    std::ofstream log(settings.done_log, std::ios::app);
    log << job.output + " from=" + std::to_string(from) + " host=" + stylize::LockOwner::current("").host +
               " pid=" + std::to_string(::getpid()) + "\n"
        << std::flush;
  }
  return true;
}

Settings parse(int argc, char** argv) {
  Settings settings;
  if (const char* log = std::getenv("FAKE_STYLIZE_DONE_LOG")) settings.done_log = log;
  std::vector<std::string> args;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t equals = arg.find('=');
    if (arg.rfind("--", 0) == 0 && equals != std::string::npos) {  // --flag=value
      args.push_back(arg.substr(0, equals));
      args.push_back(arg.substr(equals + 1));
    } else {
      args.push_back(arg);
    }
  }
  std::vector<std::string>* list = nullptr;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string arg = args[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw stylize::OptionError(arg + " needs a value");
      return args[++i];
    };
    if (arg == "--content") {
      list = &settings.contents;
    } else if (arg == "--style") {
      list = &settings.styles;
    } else if (arg == "--output-template") {
      settings.output_template = value(), list = nullptr;
    } else if (arg == "--shard") {
      settings.shard = value(), list = nullptr;
    } else if (arg == "-n" || arg == "--iterations") {
      settings.iterations = std::stoi(value()), list = nullptr;
    } else if (arg == "--iteration-ms") {
      settings.iteration_ms = std::stoi(value()), list = nullptr;
    } else if (arg == "--done-log") {
      settings.done_log = value(), list = nullptr;
    } else if (arg == "--threads") {
      value(), list = nullptr;
    } else if (list && arg.rfind("-", 0) != 0) {
      list->push_back(arg);
    } else {
      throw stylize::OptionError("unknown argument " + arg);
    }
  }
  return settings;
}

bool is_image(const std::string& path) {
  const std::string ext = fs::path(path).extension().string();
  return ext == ".png" || ext == ".jpg" || ext == ".ppm";
}

int run(const Settings& settings) {
  const auto jobs = make_jobs(expand_inputs(settings.contents, "content", is_image),
                              expand_inputs(settings.styles, "style", is_image), settings.output_template);
  Shard shard;
  if (!settings.shard.empty()) {
    shard = parse_shard(settings.shard);
  } else if (auto found = shard_from_environment(process_environment())) {
    shard = *found;
  }
  const JobRange range = shard_range(jobs.size(), shard);
  std::cout << "shard " << shard.index << "/" << shard.count << ": jobs " << range.first + 1 << ".." << range.last
            << " of " << jobs.size() << std::endl;
  const stylize::LockOwner me = stylize::LockOwner::current("stylize batch");
  const stylize::LockTiming timing;
  std::vector<size_t> todo;
  for (size_t j = range.first; j < range.last; ++j) todo.push_back(j);
  const auto deadline = std::chrono::steady_clock::now() + 2 * timing.stale_after;
  while (!todo.empty()) {
    std::vector<size_t> busy;
    for (size_t j : todo) {
      const Job& job = jobs[j];
      fs::create_directories(fs::path(job.output).parent_path().empty() ? "." : fs::path(job.output).parent_path());
      ClaimAttempt attempt = try_claim(job.output, me, timing);
      if (!attempt.claim) {
        busy.push_back(j);
        continue;
      }
      if (attempt.claim->state() == OutputState::Done) continue;
      attempt.claim->start_heartbeat();
      if (!run_job(job, *attempt.claim, settings)) return 128 + g_signal.load();
    }
    if (!busy.empty() && std::chrono::steady_clock::now() > deadline) {
      std::cerr << busy.size() << " job(s) still held by other workers" << std::endl;
      return 75;
    }
    if (!busy.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(500));
    todo = busy;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "batch") != 0) {
    std::cerr << "usage: fake_stylize batch --content ... --style ... --output-template T [...]" << std::endl;
    return 2;
  }
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  try {
    return run(parse(argc, argv));
  } catch (const stylize::OptionError& e) {
    std::cerr << "error: " << e.what() << std::endl;
    return 2;
  } catch (const stylize::ImageError& e) {
    std::cerr << "error: " << e.what() << std::endl;
    return 3;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << std::endl;
    return 1;
  }
}
