// Batches of (content, style) jobs: expanding folders and file lists into one
// deterministic list, naming outputs from a template, and cutting the list
// into the shards of a Slurm job array or a Kubernetes Indexed Job. Every
// worker of a batch computes the same list from the same arguments, so the
// shards need no coordinator. No LibTorch, no OpenCV.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace stylize::batch {

struct Job {
  size_t number = 0;  // 1-based position in the whole batch ({n} in the template)
  std::string content;
  std::string style;
  std::string output;
};

// Whether a file name is an image stylize reads (the CLI passes stylize::has_image_extension).
using ImagePredicate = std::function<bool(const std::string& path)>;

// The images directly in `folder` (not recursive, hidden files skipped),
// sorted by name. `what` ("content", "style") names the folder in errors.
// Throws ImageError for a folder that cannot be listed or holds no images.
std::vector<std::string> images_in_folder(const std::string& folder, const std::string& what,
                                          const ImagePredicate& is_image);

// `pattern` with {content} and {style} replaced by the stems of the job's
// files and {n} by its number. Throws OptionError for any other {word}.
std::string fill_output_template(const std::string& pattern, const Job& job);

// Expands `paths` (files and folders, as given on the command line) into a
// list of image files: a folder stands for the images directly in it (not
// recursive, hidden files skipped), sorted by name; files keep their order;
// a path given twice counts once. `what` ("content", "style") names the
// inputs and their flag (--content) in errors. Throws ImageError for a missing
// path or a folder without images, OptionError for an empty list.
std::vector<std::string> expand_inputs(const std::vector<std::string>& paths, const std::string& what,
                                       const ImagePredicate& is_image);

// Every content with every style, content-major (all styles of the first
// content, then of the second...), outputs named by `output_template`:
// {content} and {style} are the file stems, {n} the job's number. Throws
// OptionError for an unknown placeholder and for two jobs that would write the
// same output, OutputError for an output that is one of the inputs.
std::vector<Job> make_jobs(const std::vector<std::string>& contents, const std::vector<std::string>& styles,
                           const std::string& output_template);

// Throws OutputError when a job's output would land in one of the folders
// among `paths` (the --content or --style arguments; `what`: "content" or
// "style"): a later run, another worker or a requeued task would list it there
// as an input.
void refuse_outputs_in_input_folders(const std::vector<Job>& jobs, const std::vector<std::string>& paths,
                                     const std::string& what);

// The folder among `paths` that `output` would be written into (the same
// folder, however named), or nullptr; paths that are no folder are skipped.
const std::string* folder_holding(const std::string& output, const std::vector<std::string>& paths);

// Shard `index` of `count` (0 <= index < count).
struct Shard {
  int index = 0;
  int count = 1;
  std::string source;  // where it came from, for messages: "--shard 1/3", "SLURM_ARRAY_TASK_ID=4"
};

// Parses "I/N" (--shard). Throws OptionError.
Shard parse_shard(const std::string& text);

// Reads the environment variable `name`; nullptr when unset. Tests pass a map.
using Environment = std::function<const char*(const char* name)>;
Environment process_environment();

// The name of the variable a Kubernetes Indexed Job manifest sets to the
// number of shards (its `completions`): Kubernetes itself only sets
// JOB_COMPLETION_INDEX.
constexpr const char* kShardCountVariable = "STYLIZE_SHARD_COUNT";

// The shard the scheduler gave this process, or nullopt outside an array job:
//  - Slurm job array: SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT,
//    SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_MAX and SLURM_ARRAY_TASK_STEP: the
//    task ids must be an evenly spaced range (--array=0-7, 1-15:2), which
//    need not start at 0; index = (id - min) / step.
//  - Kubernetes Indexed Job: JOB_COMPLETION_INDEX with the count from
//    `count` when given (a flag), else from STYLIZE_SHARD_COUNT.
// Throws OptionError when the variables are inconsistent or the count is missing.
std::optional<Shard> shard_from_environment(const Environment& environment, std::optional<int> count = std::nullopt);

// The half-open range [first, last) of the jobs in `shard`: the content-major
// list cut into `count` consecutive pieces whose sizes differ by at most one.
// Consecutive pieces keep the jobs of one content together (they share the
// network and the content targets) except where a content straddles a cut:
// with C contents and N shards, at most N - 1 contents are split, none when N
// divides C. Every job is in exactly one shard.
struct JobRange {
  size_t first = 0;
  size_t last = 0;
  size_t size() const { return last - first; }
};
JobRange shard_range(size_t job_count, const Shard& shard);

}  // namespace stylize::batch
