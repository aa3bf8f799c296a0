// `stylize batch`: the jobs of one shard, each claimed before it runs
// (batch/claims.hpp), so that any number of workers (processes, Slurm array
// tasks, Kubernetes pods) can share one job list on a shared filesystem.
// README, "On a cluster".
#include "batch_command.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <thread>

#include "args.hpp"
#include "checkpoint.hpp"
#include "exit_codes.hpp"
#include "inputs.hpp"
#include "interrupt.hpp"
#include "jobs.hpp"
#include "stylize/batch/claims.hpp"
#include "stylize/batch/jobs.hpp"
#include "stylize/core/device.hpp"
#include "stylize/errors.hpp"
#include "stylize/io/file.hpp"
#include "stylize/io/image_format.hpp"
#include "stylize/io/image_io.hpp"
#include "stylize_command.hpp"

namespace stylize::cli {
namespace fs = std::filesystem;

namespace {

// How long a worker waits between looks at jobs other workers hold.
constexpr auto kBusyPoll = std::chrono::seconds(1);

batch::Shard shard_of(const BatchParams& params) {
  if (!params.shard.empty()) return batch::parse_shard(params.shard);
  if (auto shard = batch::shard_from_environment(batch::process_environment())) return *shard;
  return {0, 1, "no --shard and no array job: every job"};
}

// The weights a worker has read, as its records name them.
RecordedWeights recorded_weights(const LoadedWeights& loaded) {
  return {fs::path(loaded.path).filename().string(), loaded.weights.convention.name};
}

// The flags of one job: the batch's, with its content, style and output, and
// resuming from the checkpoint record an interrupted run left beside it, or
// from the newest --save-every image of a killed one; nullopt for an
// unfinished output saved past this run's -n (finished as it is). One begun
// with other settings is started again with --redo, and refused without (it
// was begun after this worker's first look: check_recorded_outputs refuses
// the others).
std::optional<CliParams> job_params(const BatchParams& settings, const batch::Job& job, batch::OutputState state,
                                    const RecordedWeights& weights) {
  CliParams params = settings.run;
  params.content_path = job.content;
  params.style_paths = {job.style};
  params.output_path = job.output;
  params.output_given = true;
  if (state == batch::OutputState::Done) return params;  // with other settings (--redo): made again from the start
  const std::string differences = made_differences(job.output, settings.run, weights, MadeState::Begun);
  if (!differences.empty() && (state == batch::OutputState::Unfinished || !newest_snapshot(params).empty())) {
    if (!settings.redo) {
      throw OptionError(job.output + " was begun by another run with other settings (" + differences +
                        "), and would be resumed; add --redo to start it again with this run's settings");
    }
    spdlog::info("--redo: {} was begun with other settings ({}); it starts again", job.output, differences);
    give_up_unfinished(params);
    return params;
  }
  if (state == batch::OutputState::Unfinished) return resume_or_restart(std::move(params));
  return resume_from_snapshot(std::move(params));
}

struct Tally {
  size_t done = 0, skipped = 0, failed = 0;
  int exit_code = kOk;  // the first failure's
};

// The record of the settings a job's output is made with (made_record_path),
// for later runs: written as the job starts on an output not yet done (a run
// killed outright leaves it beside its --save-every images), and once it is
// done or saved unfinished; put back as it was when the job leaves nothing of
// its own. A record that cannot be written costs only that check.
class SettingsRecord {
 public:
  SettingsRecord(const std::string& output, const CliParams& run, const RecordedWeights& weights)
      : output_(output), run_(run), weights_(weights) {}

  void write() {
    const std::string path = made_record_path(output_);
    std::error_code missing;
    if (!written_ && fs::is_regular_file(path, missing)) {
      std::ifstream file(path, std::ios::binary);
      earlier_ = std::string(std::istreambuf_iterator<char>(file), {});
    }
    try {
      write_made_record(output_, run_, weights_);
      written_ = true;
    } catch (const std::exception& e) {
      spdlog::warn("{}; a later run takes {} for done whatever its settings", e.what(), output_);
    }
  }

  // The job left no image of its own (failed or stopped before its first
  // save): the output is what it was, and so is its record.
  void put_back() {
    if (!written_) return;
    const std::string path = made_record_path(output_);
    try {
      if (earlier_) {
        write_file_atomically(path, *earlier_);
      } else {
        fs::remove(path);
      }
    } catch (const std::exception& e) {
      spdlog::warn("cannot put back the record {}: {}", path, e.what());
    }
  }

 private:
  std::string output_;
  const CliParams& run_;
  RecordedWeights weights_;
  bool written_ = false;
  std::optional<std::string> earlier_;
};

// Runs one claimed job; returns its exit code (0, 7 or 128 + signal, or an
// error's), or nullopt when another worker took it over meanwhile (nothing
// was written: it is that worker's now, and this one waits for it).
std::optional<int> run_claimed(const BatchParams& settings, const batch::Job& job, batch::Claim& claim,
                               const LoadedWeights& weights, int threads) {
  const RecordedWeights recorded = recorded_weights(weights);
  SettingsRecord record(job.output, settings.run, recorded);
  try {
    const std::optional<CliParams> resumed = job_params(settings, job, claim.state(), recorded);
    if (!resumed) {
      record.write();  // finished as it was saved: made
      return kOk;
    }
    const CliParams& params = *resumed;
    validate_params(params);
    const std::vector<Job> jobs = make_jobs(params);
    OutputFolders folders;                 // the job's folder was made before the first job
    check_outputs(jobs, params, folders);  // as stylize does: the record's path, killed workers' temporaries
    // A remade output keeps the record of the image it still is until the new one is written.
    if (claim.state() != batch::OutputState::Done) record.write();
    const int code = run_jobs(params, jobs, weights, threads, [&claim] { return claim.verify(); });
    if (!claim.held()) return std::nullopt;
    std::error_code missing;
    if (code == kOk || fs::exists(checkpoint_path(job.output), missing)) {
      record.write();  // made, or saved unfinished
    } else {
      record.put_back();
    }
    return code;
  } catch (const std::exception& e) {
    record.put_back();
    const int code = report_error(e);
    spdlog::error("job {} ({} with {}) failed (exit code {}); going on with the others", job.number, job.content,
                  job.style, code);
    return code;
  }
}

// All workers' jobs and this worker's range of them.
struct ShardPlan {
  std::vector<batch::Job> jobs;
  batch::Shard shard;
  batch::JobRange range;
};

// Expands the inputs into the job list, refuses outputs among the inputs and
// says which jobs are this worker's.
ShardPlan plan_shard(const BatchParams& settings) {
  refuse_comma_lists(settings.contents, "content");
  refuse_comma_lists(settings.run.style_paths, "style");
  const std::vector<std::string> contents = batch::expand_inputs(settings.contents, "content", has_image_extension);
  const std::vector<std::string> styles = batch::expand_inputs(settings.run.style_paths, "style", has_image_extension);
  ShardPlan plan;
  plan.jobs = batch::make_jobs(contents, styles, settings.run.output_template);
  batch::refuse_outputs_in_input_folders(plan.jobs, settings.contents, "content");
  batch::refuse_outputs_in_input_folders(plan.jobs, settings.run.style_paths, "style");
  const std::string& names = settings.run.output_template;
  if (names.find("{n}") != std::string::npos &&
      (names.find("{content}") == std::string::npos || names.find("{style}") == std::string::npos)) {
    spdlog::warn(
        "--output-template '{}' names outputs by job number: an image added to or removed from the inputs "
        "renumbers the jobs, and a later run takes another job's output for done; name them by {{content}} and "
        "{{style}}",
        names);
  }
  plan.shard = shard_of(settings);
  plan.range = batch::shard_range(plan.jobs.size(), plan.shard);
  const batch::Shard& shard = plan.shard;
  if (plan.range.first < plan.range.last) {
    spdlog::info("shard {}/{} ({}): jobs {}..{} of {}", shard.index, shard.count, shard.source, plan.range.first + 1,
                 plan.range.last, plan.jobs.size());
  } else {
    spdlog::info("shard {}/{} ({}): no jobs (there are {}, fewer than the shards)", shard.index, shard.count,
                 shard.source, plan.jobs.size());
  }
  return plan;
}

// Checks, before any work, that every output of the shard can be written:
// its folder (created, and probed once) and its format (the template's
// extension, the same for all).
void prepare_outputs(const ShardPlan& plan, const CliParams& run, OutputFolders& made) {
  std::set<std::string> folders;
  for (size_t j = plan.range.first; j < plan.range.last; ++j) {
    const std::string& output = plan.jobs[j].output;
    if (!folders.insert(fs::path(output).parent_path().string()).second) continue;
    made.create_for(output);
    remove_if_stopped_before_the_run(made);
    check_output_path(output);
    check_output_format(output, run.size, run.size, run.bit_depth != 0 ? run.bit_depth : 8);
  }
}

// "X (...)", or "X (...) and 3 more".
std::string first_and_count(const std::vector<std::string>& outputs) {
  return outputs.front() + (outputs.size() > 1 ? " and " + std::to_string(outputs.size() - 1) + " more" : "");
}

// Refuses, before any work, outputs of the shard that an earlier run made or
// began with other settings than this run's: taken for done, they would be
// skipped, and resumed, they would go on towards another image; either way the
// run would not make what it was asked for. With --redo they are made again.
void check_recorded_outputs(const ShardPlan& plan, const BatchParams& settings) {
  const RecordedWeights weights = recorded_weights(settings.run);
  std::vector<std::string> made, begun;
  for (size_t j = plan.range.first; j < plan.range.last; ++j) {
    const std::string& output = plan.jobs[j].output;
    const batch::OutputState state = batch::output_state(output);
    const bool done = state == batch::OutputState::Done;
    const std::string differences =
        made_differences(output, settings.run, weights, done ? MadeState::Done : MadeState::Begun);
    if (differences.empty()) continue;
    CliParams job = settings.run;
    job.output_path = output;
    if (done) {
      made.push_back(output + " (" + differences + ")");
    } else if (state == batch::OutputState::Unfinished || !newest_snapshot(job).empty()) {
      begun.push_back(output + " (" + differences + ")");
    }
  }
  if (made.empty() && begun.empty()) return;
  if (settings.redo) {
    if (!made.empty()) {
      spdlog::info("--redo: {} output(s) made with other settings are made again, {} first", made.size(), made.front());
    }
    if (!begun.empty()) {
      spdlog::info("--redo: {} unfinished output(s) begun with other settings start again, {} first", begun.size(),
                   begun.front());
    }
    return;
  }
  const std::string of = plan.shard.count > 1 ? " of this shard" : " of this batch";
  std::string text;
  if (!made.empty()) {
    text = std::to_string(made.size()) + " output(s)" + of +
           " were made by an earlier run with other settings, and would be skipped as done: " + first_and_count(made);
  }
  if (!begun.empty()) {
    text += (text.empty() ? "" : "; ") + std::to_string(begun.size()) + " unfinished output(s)" +
            (made.empty() ? of : "") +
            " were begun by an earlier run with other settings, and would be resumed: " + first_and_count(begun);
  }
  throw OptionError(text +
                    "; add --redo to make them again with this run's settings (each is replaced by its new image, "
                    "or by its unfinished one if that job is interrupted), or give --output-template another folder");
}

// Runs the shard's jobs, each once this worker has claimed it; jobs other
// workers hold are looked at again until they are done or released. Stops at
// a signal; returns the exit code of a job it interrupted.
std::optional<int> work_through(const ShardPlan& plan, const BatchParams& settings, const LoadedWeights& weights,
                                int threads, Tally& tally) {
  const LockOwner me = LockOwner::current("stylize batch");
  const LockTiming timing;
  const RecordedWeights recorded = recorded_weights(weights);
  std::vector<size_t> todo;
  for (size_t j = plan.range.first; j < plan.range.last; ++j) todo.push_back(j);
  bool told_busy = false;
  while (!todo.empty() && interrupt_signal() == 0) {
    std::vector<size_t> busy;  // held by other workers
    for (size_t j : todo) {
      if (interrupt_signal() != 0) break;
      const batch::Job& job = plan.jobs[j];
      batch::ClaimAttempt attempt;
      try {
        attempt = batch::try_claim(job.output, me, timing);
      } catch (const OutputError& e) {
        // Its lock cannot be made (a full disk, a folder this worker cannot write): this job fails, not the worker.
        spdlog::error("job {} ({} with {}) failed (exit code {}): {}; going on with the others", job.number,
                      job.content, job.style, static_cast<int>(kOutputError), e.what());
        ++tally.failed;
        if (tally.exit_code == kOk) tally.exit_code = kOutputError;
        continue;
      }
      if (!attempt.claim) {
        if (!told_busy && attempt.holder.exists) {
          spdlog::info("{} is {}; waiting for it, with the other jobs meanwhile", job.output, attempt.holder.reason);
        }
        busy.push_back(j);
        continue;
      }
      batch::Claim& claim = *attempt.claim;
      if (!claim.taken_over().empty()) spdlog::info("took over the claim on {} ({})", job.output, claim.taken_over());
      if (claim.state() == batch::OutputState::Done) {
        const std::string differences = made_differences(job.output, settings.run, recorded);
        if (differences.empty()) {  // done, with this run's settings
          ++tally.skipped;
          continue;
        }
        if (!settings.redo) {
          // Made while this worker waited, by a worker with other settings: not what this run asked for.
          spdlog::error("{} was made by another worker with other settings ({}); add --redo to make it again",
                        job.output, differences);
          ++tally.failed;
          if (tally.exit_code == kOk) tally.exit_code = kUsageError;
          continue;
        }
        // --redo: made again, from the start
      }
      claim.start_heartbeat();
      spdlog::info("job {} of {}: {} with {} -> {}", job.number, plan.jobs.size(), job.content, job.style, job.output);
      const std::optional<int> outcome = run_claimed(settings, job, claim, weights, threads);
      claim.release();  // a lost claim's lock is the other worker's: left alone
      if (!outcome) {
        spdlog::info("{} is another worker's now; waiting for it", job.output);
        busy.push_back(j);
        continue;
      }
      const int code = *outcome;
      if (code == kOk) {
        ++tally.done;
      } else if (is_interrupted_exit(code)) {
        return code;  // interrupted: the job is saved with its record; the rest waits for the next run
      } else {
        ++tally.failed;
        if (tally.exit_code == kOk) tally.exit_code = code;
      }
    }
    told_busy = told_busy || !busy.empty();
    todo = busy;
    if (!todo.empty()) std::this_thread::sleep_for(kBusyPoll);
  }
  return std::nullopt;
}

}  // namespace

int batch_command(BatchParams settings) {
  const int threads = configure_threads(settings.run.threads);
  keep_freed_cpu_memory();
  validate_params(settings.run);
  check_init_image(settings.run);
  const ShardPlan plan = plan_shard(settings);
  OutputFolders made;  // a command that fails before its first job removes the folders it made
  prepare_outputs(plan, settings.run, made);
  check_recorded_outputs(plan, settings);
  if (plan.range.size() == 0) return kOk;
  // Said once, not once per job.
  resolve_precision(settings.run.options.precision, resolve_device(settings.run.options.device));
  const LoadedWeights weights = load_weights_for(settings.run);  // from here on a signal saves and stops
  made.keep();

  Tally tally;
  if (const std::optional<int> code = work_through(plan, settings, weights, threads, tally)) return *code;
  if (interrupt_signal() != 0) {
    // Between jobs or while waiting for another worker's: nothing half made.
    spdlog::warn(
        "interrupted between jobs: {} job(s) made, {} already done; run the same stylize batch command to "
        "go on with the rest",
        tally.done, tally.skipped);
    return interrupted_exit_code(interrupt_signal());
  }
  spdlog::info("shard {}/{}: {} job(s) made, {} already done, {} failed", plan.shard.index, plan.shard.count,
               tally.done, tally.skipped, tally.failed);
  return tally.exit_code;
}

int batch_main(int argc, char** argv) {
  BatchParams params;
  CLI::App app;
  build_batch_parser(app, params);
  if (const auto code = parse_command_line(app, params.run, argc, argv)) return *code;
  return batch_command(std::move(params));
}

}  // namespace stylize::cli
