// Batch jobs: input expansion, output templates, shards and the scheduler environment.
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "batch_test_util.hpp"
#include "stylize/batch/jobs.hpp"
#include "stylize/errors.hpp"

using namespace stylize::batch;
using stylize::batch_test::put;
using stylize::batch_test::ScratchDir;

namespace {

bool image_name(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  return ext == ".png" || ext == ".jpg" || ext == ".ppm";
}

Environment fake_environment(const std::map<std::string, std::string>& values) {
  return [values](const char* name) -> const char* {
    const auto it = values.find(name);
    return it == values.end() ? nullptr : it->second.c_str();
  };
}

std::vector<std::string> numbered(const std::string& prefix, int count) {
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) names.push_back(prefix + std::to_string(i) + ".png");
  return names;
}

}  // namespace

TEST(BatchInputs, FolderIsSortedAndFilteredFilesKeepTheirOrderDuplicatesCountOnce) {
  ScratchDir dir;
  std::filesystem::create_directories(dir.path() / "photos");
  for (const char* name : {"b.jpg", "a.png", "c.ppm", "notes.txt", ".hidden.png", "._a.png"}) {
    put(dir.file(std::string("photos/") + name), "x");
  }
  put(dir.file("z.png"), "x");
  const std::string folder = dir.file("photos");
  const auto inputs =
      expand_inputs({dir.file("z.png"), folder, folder + "/./b.jpg", dir.file("z.png")}, "content", image_name);
  const std::vector<std::string> expected = {dir.file("z.png"), folder + "/a.png", folder + "/b.jpg",
                                             folder + "/c.ppm"};
  EXPECT_EQ(inputs, expected);
}

TEST(BatchInputs, MissingPathEmptyFolderAndEmptyListAreErrors) {
  ScratchDir dir;
  std::filesystem::create_directories(dir.path() / "empty");
  put(dir.file("empty/readme.txt"), "x");
  try {
    expand_inputs({dir.file("nope.png")}, "style", image_name);
    ADD_FAILURE();
  } catch (const stylize::ImageError& e) {  // worded as stylize's own
    EXPECT_EQ(std::string(e.what()), "cannot read style image '" + dir.file("nope.png") + "': file not found");
  }
  try {
    expand_inputs({dir.file("empty")}, "style", image_name);
    FAIL() << "an image-less folder was accepted";
  } catch (const stylize::ImageError& e) {
    EXPECT_NE(std::string(e.what()).find("style folder"), std::string::npos) << e.what();
  }
  try {
    expand_inputs({}, "content", image_name);
    FAIL() << "an empty list was accepted";
  } catch (const stylize::OptionError& e) {
    EXPECT_NE(std::string(e.what()).find("no content images: give files or folders with --content"), std::string::npos)
        << e.what();
  }
}

TEST(BatchJobs, ContentMajorOrderNumbersAndTemplate) {
  const auto jobs =
      make_jobs({"in/a.jpg", "in/b.png"}, {"art/x.jpg", "art/y.jpg", "art/z.jpg"}, "out/{content}_{style}_{n}.png");
  ASSERT_EQ(jobs.size(), 6u);
  const std::vector<std::string> expected = {"out/a_x_1.png", "out/a_y_2.png", "out/a_z_3.png",
                                             "out/b_x_4.png", "out/b_y_5.png", "out/b_z_6.png"};
  for (size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ(jobs[i].output, expected[i]);
    EXPECT_EQ(jobs[i].number, i + 1);
  }
  EXPECT_EQ(jobs[4].content, "in/b.png");
  EXPECT_EQ(jobs[4].style, "art/y.jpg");
}

TEST(BatchJobs, CollisionUnknownPlaceholderAndInputAsOutputAreErrors) {
  try {
    make_jobs({"a.jpg"}, {"x.jpg", "y.jpg"}, "out/{content}.png");
    FAIL() << "two jobs writing one output were accepted";
  } catch (const stylize::OptionError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("out/a.png"), std::string::npos) << message;
    EXPECT_NE(message.find("{style}"), std::string::npos) << message;
  }
  // Same stems in different folders collide too; the template already names
  // both, so the advice is to rename (or number), not to add what is there.
  try {
    make_jobs({"one/a.jpg", "two/a.jpg"}, {"x.jpg"}, "{content}_{style}.png");
    FAIL() << "two contents with one file name were accepted";
  } catch (const stylize::OptionError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("differ only in their folder or extension: rename one, or include {n} too"),
              std::string::npos)
        << message;
    EXPECT_EQ(message.find("include {content} and {style}"), std::string::npos) << message;
  }
  EXPECT_NO_THROW(make_jobs({"one/a.jpg", "two/a.jpg"}, {"x.jpg"}, "{n}_{content}_{style}.png"));
  EXPECT_THROW(make_jobs({"a.jpg"}, {"x.jpg"}, "out/{contnet}.png"), stylize::OptionError);
  EXPECT_THROW(make_jobs({"a.jpg"}, {"x.jpg"}, "out/{content.png"), stylize::OptionError);
  // The output is an input: exit code 6, as for stylize's own outputs.
  EXPECT_THROW(make_jobs({"dir/a.png"}, {"x.png"}, "dir/{content}.png"), stylize::OutputError);
}

TEST(BatchShards, ParseShard) {
  const Shard shard = parse_shard("2/5");
  EXPECT_EQ(shard.index, 2);
  EXPECT_EQ(shard.count, 5);
  for (const char* bad : {"5/5", "-1/3", "1/0", "a/b", "1", "1/3x", ""}) {
    EXPECT_THROW(parse_shard(bad), stylize::OptionError) << bad;
  }
}

// The property the whole design rests on: for every batch size and N = 1..7,
// every job is in exactly one shard, the shards are balanced to one job, and
// a content is split only where a cut falls inside it.
TEST(BatchShards, EveryJobInExactlyOneShard) {
  for (int contents = 1; contents <= 9; ++contents) {
    for (int styles = 1; styles <= 5; ++styles) {
      const auto jobs = make_jobs(numbered("c", contents), numbered("s", styles), "{content}_{style}.png");
      for (int count = 1; count <= 7; ++count) {
        std::vector<int> owner(jobs.size(), -1);
        size_t smallest = jobs.size(), largest = 0;
        std::map<std::string, std::set<int>> shards_of_content;
        for (int index = 0; index < count; ++index) {
          const JobRange range = shard_range(jobs.size(), {index, count, "test"});
          smallest = std::min(smallest, range.size());
          largest = std::max(largest, range.size());
          for (size_t j = range.first; j < range.last; ++j) {
            ASSERT_LT(j, jobs.size());
            EXPECT_EQ(owner[j], -1) << "job " << j << " in shards " << owner[j] << " and " << index;
            owner[j] = index;
            shards_of_content[jobs[j].content].insert(index);
          }
        }
        for (size_t j = 0; j < jobs.size(); ++j) EXPECT_NE(owner[j], -1) << "job " << j << " in no shard";
        EXPECT_LE(largest - smallest, 1u) << contents << "x" << styles << " over " << count;
        int split = 0;
        for (const auto& entry : shards_of_content) split += entry.second.size() > 1;
        EXPECT_LE(split, count - 1);
        if (contents % count == 0) {
          EXPECT_EQ(split, 0) << contents << " contents over " << count;
        }
      }
    }
  }
}

TEST(BatchShards, SlurmArrayZeroBasedOneBasedAndStepped) {
  auto shard = shard_from_environment(fake_environment({{"SLURM_ARRAY_TASK_ID", "2"},
                                                        {"SLURM_ARRAY_TASK_COUNT", "3"},
                                                        {"SLURM_ARRAY_TASK_MIN", "0"},
                                                        {"SLURM_ARRAY_TASK_MAX", "2"},
                                                        {"SLURM_ARRAY_TASK_STEP", "1"}}));
  ASSERT_TRUE(shard);
  EXPECT_EQ(shard->index, 2);
  EXPECT_EQ(shard->count, 3);
  // --array=1-4
  shard = shard_from_environment(fake_environment({{"SLURM_ARRAY_TASK_ID", "1"},
                                                   {"SLURM_ARRAY_TASK_COUNT", "4"},
                                                   {"SLURM_ARRAY_TASK_MIN", "1"},
                                                   {"SLURM_ARRAY_TASK_MAX", "4"},
                                                   {"SLURM_ARRAY_TASK_STEP", "1"}}));
  ASSERT_TRUE(shard);
  EXPECT_EQ(shard->index, 0);
  EXPECT_EQ(shard->count, 4);
  // --array=1-9:2 (ids 1 3 5 7 9)
  shard = shard_from_environment(fake_environment({{"SLURM_ARRAY_TASK_ID", "7"},
                                                   {"SLURM_ARRAY_TASK_COUNT", "5"},
                                                   {"SLURM_ARRAY_TASK_MIN", "1"},
                                                   {"SLURM_ARRAY_TASK_MAX", "9"},
                                                   {"SLURM_ARRAY_TASK_STEP", "2"}}));
  ASSERT_TRUE(shard);
  EXPECT_EQ(shard->index, 3);
  EXPECT_EQ(shard->count, 5);
  EXPECT_NE(shard->source.find("SLURM_ARRAY_TASK_ID=7"), std::string::npos);
}

TEST(BatchShards, SlurmIrregularArrayOrMissingCountIsAnError) {
  // --array=1,3,7: Slurm says count 3, min 1, max 7, step 1.
  EXPECT_THROW(shard_from_environment(fake_environment({{"SLURM_ARRAY_TASK_ID", "3"},
                                                        {"SLURM_ARRAY_TASK_COUNT", "3"},
                                                        {"SLURM_ARRAY_TASK_MIN", "1"},
                                                        {"SLURM_ARRAY_TASK_MAX", "7"},
                                                        {"SLURM_ARRAY_TASK_STEP", "1"}})),
               stylize::OptionError);
  // An id outside an even range is said as such (it was "not an evenly spaced range").
  try {
    shard_from_environment(fake_environment({{"SLURM_ARRAY_TASK_ID", "3"},
                                             {"SLURM_ARRAY_TASK_COUNT", "3"},
                                             {"SLURM_ARRAY_TASK_MIN", "1"},
                                             {"SLURM_ARRAY_TASK_MAX", "7"},
                                             {"SLURM_ARRAY_TASK_STEP", "3"}}));
    FAIL() << "3 is not one of 1, 4, 7";
  } catch (const stylize::OptionError& e) {
    EXPECT_NE(std::string(e.what()).find("SLURM_ARRAY_TASK_ID=3 is not one of the array's task ids (1 to 7, step 3)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(shard_from_environment(fake_environment({{"SLURM_ARRAY_TASK_ID", "3"}})), stylize::OptionError);
  EXPECT_THROW(
      shard_from_environment(fake_environment({{"SLURM_ARRAY_TASK_ID", "x"}, {"SLURM_ARRAY_TASK_COUNT", "3"}})),
      stylize::OptionError);
}

TEST(BatchShards, KubernetesIndexWithCountFromFlagOrVariable) {
  auto shard = shard_from_environment(fake_environment({{"JOB_COMPLETION_INDEX", "4"}, {kShardCountVariable, "6"}}));
  ASSERT_TRUE(shard);
  EXPECT_EQ(shard->index, 4);
  EXPECT_EQ(shard->count, 6);
  shard = shard_from_environment(fake_environment({{"JOB_COMPLETION_INDEX", "1"}, {kShardCountVariable, "6"}}), 2);
  ASSERT_TRUE(shard);
  EXPECT_EQ(shard->count, 2);  // the flag wins over the variable
  EXPECT_THROW(shard_from_environment(fake_environment({{"JOB_COMPLETION_INDEX", "4"}})), stylize::OptionError);
  EXPECT_THROW(shard_from_environment(fake_environment({{"JOB_COMPLETION_INDEX", "6"}, {kShardCountVariable, "6"}})),
               stylize::OptionError);
}

TEST(BatchShards, NoSchedulerMeansNoShardAndSlurmWinsOverKubernetes) {
  EXPECT_FALSE(shard_from_environment(fake_environment({})));
  const auto shard = shard_from_environment(fake_environment({{"SLURM_ARRAY_TASK_ID", "1"},
                                                              {"SLURM_ARRAY_TASK_COUNT", "2"},
                                                              {"JOB_COMPLETION_INDEX", "0"},
                                                              {kShardCountVariable, "5"}}));
  ASSERT_TRUE(shard);
  EXPECT_EQ(shard->index, 1);
  EXPECT_EQ(shard->count, 2);
}
