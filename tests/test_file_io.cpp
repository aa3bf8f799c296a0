// stylize::write_file_atomically and its helpers (io/file.hpp): what a
// failed, killed or powered-off write leaves behind.
#include <dlfcn.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "stylize/errors.hpp"
#include "stylize/io/file.hpp"
#include "test_util.hpp"

// The calls write_file_atomically makes, in order, while g_recording is set:
// this executable's fsync and rename come before libc's for every caller in it
// (and in the shared libraries it loads), and pass the calls on.
namespace {
bool g_recording = false;
std::vector<std::string> g_calls;

std::string fd_path(int fd) {
  std::error_code error;
  const auto path = std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd), error);
  return error ? "?" : path.string();
}
}  // namespace

extern "C" int fsync(int fd) {
  using Fsync = int (*)(int);
  static const auto real = reinterpret_cast<Fsync>(::dlsym(RTLD_NEXT, "fsync"));
  if (g_recording) g_calls.push_back("fsync " + fd_path(fd));
  return real(fd);
}

extern "C" int rename(const char* from, const char* to) noexcept {
  using Rename = int (*)(const char*, const char*);
  static const auto real = reinterpret_cast<Rename>(::dlsym(RTLD_NEXT, "rename"));
  if (g_recording) g_calls.push_back(std::string("rename ") + to);
  return real(from, to);
}

namespace stylize {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  return names;
}

TEST(FileIo, SyncsTheDataBeforeTheRenameAndTheDirectoryAfter) {
  test::TempDir dir;
  const std::string target = dir.file("out.json");
  g_calls.clear();
  g_recording = true;
  write_file_atomically(target, "{}\n");
  g_recording = false;
  const std::string canonical_dir = fs::canonical(dir.path()).string();
  const std::vector<std::string> expected = {
      "fsync " + fs::canonical(dir.path()).string() + "/" + fs::path(temporary_path(target, 0)).filename().string(),
      "rename " + target, "fsync " + canonical_dir};
  ASSERT_EQ(g_calls.size(), 3u) << ::testing::PrintToString(g_calls);
  // The temporary's counter is not known: compare up to it.
  EXPECT_EQ(g_calls[0].substr(0, g_calls[0].rfind('-')), expected[0].substr(0, expected[0].rfind('-')));
  EXPECT_EQ(g_calls[1], expected[1]);
  EXPECT_EQ(g_calls[2], expected[2]);
  EXPECT_EQ(test::read_file(target), "{}\n");
}

TEST(FileIo, AFailedRenameLeavesNoTemporary) {
  test::TempDir dir;
  fs::create_directory(dir.file("adir"));
  test::write_file(dir.file("adir/keep"), "x");  // a non-empty directory cannot be renamed over
  EXPECT_THROW(write_file_atomically(dir.file("adir"), "data", "report"), OutputError);
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"adir"});
}

// A file made piece by piece (Adam's moments, through torch::save): the pieces
// in order; a producer that throws leaves the old file and no temporary; an
// error writing (a full disk, here /dev/full) lets the producer finish, and is
// said after it.
TEST(FileIo, AFileWrittenInPiecesIsWrittenAtomicallyToo) {
  test::TempDir dir;
  const std::string target = dir.file("out.bin");
  write_file_atomically(target, [](const ByteSink& sink) {
    for (const char* piece : {"one ", "two ", "three"}) sink(piece, std::strlen(piece));
  });
  EXPECT_EQ(test::read_file(target), "one two three");

  EXPECT_THROW(write_file_atomically(target,
                                     [](const ByteSink& sink) {
                                       sink("half", 4);
                                       throw std::runtime_error("the producer failed");
                                     }),
               std::runtime_error);
  EXPECT_EQ(test::read_file(target), "one two three");
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"out.bin"});

  fs::create_symlink("/dev/full", dir.file("full.bin"));
  int pieces = 0;
  try {
    write_file_atomically(
        dir.file("full.bin"),
        [&](const ByteSink& sink) {
          for (; pieces < 3; ++pieces) sink("data", 4);
        },
        "Adam's moments");
    ADD_FAILURE() << "writing to /dev/full succeeded";
  } catch (const OutputError& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot write Adam's moments '" + dir.file("full.bin") + "': " + std::strerror(ENOSPC));
  }
  EXPECT_EQ(pieces, 3) << "the producer ran to its end";
}

TEST(FileIo, RemovesOnlyTheTemporariesOfDeadProcesses) {
  test::TempDir dir;
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  const std::string target = dir.file("out.png");
  const std::string mine = temporary_path(target, 3);
  const std::string own = std::to_string(::getpid()) + "-3";
  const std::string stale = mine.substr(0, mine.size() - own.size()) + std::to_string(dead) + "-3";
  const std::string other_host = dir.file(".out.png.tmp-stylize-elsewhere.example-" + std::to_string(dead) + "-3");
  const std::string unrelated = dir.file(".out.png.tmp" + std::to_string(dead) + "-3");
  // This host's name, another PID namespace (a container on the host's
  // network): its pids are not this one's to look up.
  const size_t from = mine.find(".tmp-stylize-") + std::string(".tmp-stylize-").size();
  const std::string writer = mine.substr(from, mine.size() - own.size() - 1 - from);  // "HOST.PIDNS"
  ASSERT_NE(writer.find('.'), std::string::npos) << "the host and the PID namespace: " << writer;
  const std::string other_namespace =
      dir.file(".out.png.tmp-stylize-" + writer.substr(0, writer.rfind('.')) + ".12345-" + std::to_string(dead) + "-3");
  for (const auto& path : {mine, stale, other_host, unrelated, other_namespace}) test::write_file(path, "");
  EXPECT_EQ(remove_stale_temporaries(target), 1);
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(mine)) << "this process is alive";
  EXPECT_TRUE(fs::exists(other_host)) << "another host's process cannot be checked from here";
  EXPECT_TRUE(fs::exists(other_namespace)) << "another PID namespace's process cannot be checked from here";
  EXPECT_TRUE(fs::exists(unrelated)) << "not a stylize temporary";
  // Through a symbolic link: the temporaries are beside the file it points to.
  fs::create_directory(dir.path() / "real");
  fs::create_symlink("real/out.png", dir.path() / "link.png");
  const std::string beside_target = dir.file("real/" + fs::path(stale).filename().string());
  test::write_file(beside_target, "");
  EXPECT_EQ(remove_stale_temporaries(dir.file("link.png")), 1);
  EXPECT_FALSE(fs::exists(beside_target));
}

TEST(FileIo, CheckWritableNamesTheProblem) {
  test::TempDir dir;
  try {
    check_writable(dir.file("missing/r.json"), "report");
    ADD_FAILURE();
  } catch (const OutputError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot write report '" + dir.file("missing/r.json") + "': directory"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(check_writable(dir.path().string(), "report"), OutputError);
  EXPECT_NO_THROW(check_writable(dir.file("r.json"), "report"));
  EXPECT_TRUE(entries(dir.path()).empty()) << "the probe is removed";
}

TEST(FileIo, ASymbolicLinkIsFollowedAndKept) {
  test::TempDir dir;
  fs::create_directory(dir.path() / "real");
  test::write_file(dir.file("real/r.json"), "old");
  fs::create_symlink("real/r.json", dir.path() / "link.json");
  check_writable(dir.file("link.json"), "report");
  write_file_atomically(dir.file("link.json"), "new", "report");
  EXPECT_TRUE(fs::is_symlink(dir.path() / "link.json")) << "the link is not replaced by a file";
  EXPECT_EQ(test::read_file(dir.file("real/r.json")), "new");
  EXPECT_EQ(entries(dir.path() / "real"), std::vector<std::string>{"r.json"}) << "no temporary left";
  // A dangling link: the file it names is created.
  fs::create_symlink("real/new.json", dir.path() / "dangling.json");
  write_file_atomically(dir.file("dangling.json"), "made", "report");
  EXPECT_TRUE(fs::is_symlink(dir.path() / "dangling.json"));
  EXPECT_EQ(test::read_file(dir.file("real/new.json")), "made");
}

// A file replaced keeps its permissions: a private result stays private
// (it became 0644 by the umask).
TEST(FileIo, AReplacedFileKeepsItsPermissions) {
  test::TempDir dir;
  const std::string path = dir.file("private.png");
  for (const auto mode : {fs::perms::owner_read | fs::perms::owner_write,
                          fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read}) {
    test::write_file(path, "old");
    fs::permissions(path, mode);
    write_file_atomically(path, "new", "image");
    EXPECT_EQ(test::read_file(path), "new");
    EXPECT_EQ(fs::status(path).permissions(), mode);
  }
}

TEST(FileIo, ANamedPipeIsWrittenIntoNotReplaced) {
  test::TempDir dir;
  const std::string fifo = dir.file("pipe");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // A reader first (non-blocking, so that a broken write cannot hang the test).
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  EXPECT_NO_THROW(check_writable(fifo, "report"));
  write_file_atomically(fifo, "{\"ok\": 1}", "report");
  char buffer[64] = {};
  const ssize_t n = ::read(reader, buffer, sizeof buffer - 1);
  ::close(reader);
  EXPECT_EQ(std::string(buffer, n > 0 ? n : 0), "{\"ok\": 1}");
  EXPECT_TRUE(fs::is_fifo(fifo)) << "the pipe is still a pipe";
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"pipe"}) << "no temporary beside it";
}

TEST(FileIo, CreatesTheFoldersAboveAnOutput) {
  test::TempDir dir;
  EXPECT_EQ(create_parent_folders(dir.file("a/b/out.png")), (std::vector<std::string>{dir.file("a"), dir.file("a/b")}));
  EXPECT_TRUE(std::filesystem::is_directory(dir.file("a/b")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("a/b/out.png"))) << "only the folders";
  EXPECT_TRUE(create_parent_folders(dir.file("a/b/again.png")).empty());
  EXPECT_NO_THROW(create_parent_folders("relative.png"));  // the current folder: nothing to create
  test::write_file(dir.file("file"), "x");
  try {
    create_parent_folders(dir.file("file/sub/out.png"));
    ADD_FAILURE() << "a folder under a file";
  } catch (const OutputError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot create the folder '" + dir.file("file/sub") + "' for '" +
                                         dir.file("file/sub/out.png") + "': "),
              std::string::npos)
        << e.what();
  }
}

TEST(FileIo, OutputFoldersRemovesTheFoldersItMadeThatStayedEmpty) {
  test::TempDir dir;
  std::filesystem::create_directory(dir.file("there"));
  {
    OutputFolders folders;
    folders.create_for(dir.file("there/empty/deeper/out.png"));
    folders.create_for(dir.file("used/out.png"));
    folders.create_for(dir.file("half/empty/out.png"));
    test::write_file(dir.file("used/out.png"), "x");
    test::write_file(dir.file("half/file"), "x");
  }
  EXPECT_TRUE(std::filesystem::is_directory(dir.file("there"))) << "made before";
  EXPECT_FALSE(std::filesystem::exists(dir.file("there/empty")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("used/out.png")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("half/empty")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("half/file")));
}

}  // namespace
}  // namespace stylize
