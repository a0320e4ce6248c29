// gateway/fd/fd_objects: classifying every kind of fd, snapshots of files and memfds, and the fds
// materialized from them. Every test checks that /proc/self/fd holds as many entries after it as
// before it.
#include "gateway/fd/fd_objects.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

namespace nb::gateway {
namespace {

namespace v1 = netbinder::v1;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr uint64_t k64MiB = 64ull << 20;

int countOpenFds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) {
    return -1;
  }
  int n = 0;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') {
      ++n;
    }
  }
  ::closedir(dir);
  return n;
}

class FdObjectsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fds_before_ = countOpenFds();
    ASSERT_GT(fds_before_, 0);
    std::string tmpl = ::testing::TempDir() + "nb_fd_objects_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr) << errno;
    dir_ = tmpl;
  }

  void TearDown() override {
    for (const std::string& path : created_) {
      ::unlink(path.c_str());
    }
    ::rmdir(dir_.c_str());
    EXPECT_EQ(countOpenFds(), fds_before_) << "fd leak";
  }

  // A file in the temp dir with `data`, opened with `flags`.
  UniqueFd makeFile(const std::string& data, int flags = O_RDONLY, mode_t mode = 0640) {
    const std::string path = absl::StrCat(dir_, "/f", created_.size());
    created_.push_back(path);
    {
      UniqueFd w(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
      EXPECT_TRUE(w.valid()) << errno;
      EXPECT_EQ(::write(w.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
    }
    UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
    EXPECT_TRUE(fd.valid()) << errno;
    return fd;
  }

  std::string newPath(const std::string& stem) {
    std::string path = absl::StrCat(dir_, "/", stem);
    created_.push_back(path);
    return path;
  }

  static UniqueFd makeMemfd(const char* name, const std::string& data, unsigned seals) {
    UniqueFd fd(::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
    EXPECT_TRUE(fd.valid()) << errno;
    EXPECT_EQ(::write(fd.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
    if (seals != 0) {
      EXPECT_EQ(::fcntl(fd.get(), F_ADD_SEALS, seals), 0) << errno;
    }
    return fd;
  }

  static FdInfo classify(int fd) {
    absl::StatusOr<FdInfo> info = classifyFd(fd);
    EXPECT_TRUE(info.ok()) << info.status();
    return info.ok() ? *info : FdInfo{};
  }

  static std::string readAll(int fd) {
    std::string out;
    char buf[65536];
    off_t off = 0;
    for (;;) {
      const ssize_t n = ::pread(fd, buf, sizeof(buf), off);
      if (n <= 0) {
        EXPECT_EQ(n, 0) << errno;
        return out;
      }
      out.append(buf, static_cast<size_t>(n));
      off += n;
    }
  }

  static uint32_t accessMode(int fd) {
    return static_cast<uint32_t>(::fcntl(fd, F_GETFL)) & (O_ACCMODE | O_APPEND);
  }

  static std::string binaryBytes(size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string out(n, '\0');
    for (size_t i = 0; i < n; ++i) {
      out[i] = static_cast<char>(i < 256 ? i : rng());
    }
    return out;
  }

  int fds_before_ = 0;
  std::string dir_;
  std::vector<std::string> created_;
};

// ---- UniqueFd / dupFd ---------------------------------------------------------------------------

TEST_F(FdObjectsTest, UniqueFdOwnsAndMoves) {
  int raw[2];
  ASSERT_EQ(::pipe2(raw, O_CLOEXEC), 0);
  UniqueFd a(raw[0]);
  UniqueFd b(raw[1]);
  UniqueFd c(std::move(a));
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): moved-from is defined as -1
  EXPECT_EQ(c.get(), raw[0]);
  c = std::move(b);  // closes raw[0]
  EXPECT_EQ(::fcntl(raw[0], F_GETFD), -1);
  EXPECT_EQ(c.get(), raw[1]);
  const int released = c.release();
  EXPECT_FALSE(c.valid());
  c.reset(released);
  c.reset();
  EXPECT_EQ(::fcntl(raw[1], F_GETFD), -1);
}

TEST_F(FdObjectsTest, DupFdIsCloexecAndFailsOnBadFd) {
  UniqueFd file = makeFile("x");
  absl::StatusOr<UniqueFd> dup = dupFd(file.get());
  ASSERT_TRUE(dup.ok()) << dup.status();
  EXPECT_NE(dup->get(), file.get());
  EXPECT_EQ(::fcntl(dup->get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  EXPECT_FALSE(dupFd(-1).ok());
  EXPECT_FALSE(classifyFd(-1).ok());
}

// ---- classifyFd ---------------------------------------------------------------------------------

TEST_F(FdObjectsTest, ClassifiesRegularFile) {
  UniqueFd fd = makeFile("hello", O_RDWR | O_APPEND, 0640);
  FdInfo info = classify(fd.get());
  EXPECT_EQ(info.cls, FdClass::kRegularFile);
  EXPECT_EQ(info.description, "regular file");
  EXPECT_EQ(info.access_mode, static_cast<uint32_t>(O_RDWR | O_APPEND));
  EXPECT_EQ(info.file_mode, 0640u);
  EXPECT_EQ(info.size, 5u);
  EXPECT_EQ(info.seals, 0u);
  EXPECT_EQ(info.name, "");
}

TEST_F(FdObjectsTest, ClassifiesUnlinkedTmpfile) {
  UniqueFd fd(::open(dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    GTEST_SKIP() << "O_TMPFILE unsupported here: " << errno;
  }
  FdInfo info = classify(fd.get());
  EXPECT_EQ(info.cls, FdClass::kRegularFile);
  EXPECT_EQ(info.access_mode, static_cast<uint32_t>(O_RDWR));
}

TEST_F(FdObjectsTest, ClassifiesMemfdWithNameAndSeals) {
  UniqueFd fd = makeMemfd("my region", "abc", F_SEAL_SHRINK | F_SEAL_GROW);
  const int seals = ::fcntl(fd.get(), F_GET_SEALS);
  FdInfo info = classify(fd.get());
  EXPECT_EQ(info.cls, FdClass::kMemfd);
  EXPECT_EQ(info.name, "my region");
  EXPECT_EQ(info.description, "memfd 'my region'");
  EXPECT_EQ(info.seals, static_cast<uint32_t>(seals));
  EXPECT_EQ(info.seals & (F_SEAL_SHRINK | F_SEAL_GROW),
            static_cast<uint32_t>(F_SEAL_SHRINK | F_SEAL_GROW));
  EXPECT_EQ(info.size, 3u);
  EXPECT_EQ(info.access_mode, static_cast<uint32_t>(O_RDWR));
}

TEST_F(FdObjectsTest, ClassifiesPipeEnds) {
  int raw[2];
  ASSERT_EQ(::pipe2(raw, O_CLOEXEC), 0);
  UniqueFd r(raw[0]);
  UniqueFd w(raw[1]);
  FdInfo ri = classify(r.get());
  EXPECT_EQ(ri.cls, FdClass::kPipeRead);
  EXPECT_EQ(ri.description, "pipe (read end)");
  FdInfo wi = classify(w.get());
  EXPECT_EQ(wi.cls, FdClass::kPipeWrite);
  EXPECT_EQ(wi.description, "pipe (write end)");
}

TEST_F(FdObjectsTest, ClassifiesFifos) {
  const std::string path = newPath("fifo");
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0) << errno;
  UniqueFd rw(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(rw.valid()) << errno;
  FdInfo rwi = classify(rw.get());
  EXPECT_EQ(rwi.cls, FdClass::kUnsupported);
  EXPECT_EQ(rwi.description, "FIFO opened read-write");

  UniqueFd r(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  ASSERT_TRUE(r.valid()) << errno;
  FdInfo ri = classify(r.get());
  EXPECT_EQ(ri.cls, FdClass::kPipeRead);
  EXPECT_EQ(ri.description, "FIFO (read end)");
}

TEST_F(FdObjectsTest, ClassifiesUnixStreamSocketpair) {
  int raw[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, raw), 0);
  UniqueFd a(raw[0]);
  UniqueFd b(raw[1]);
  FdInfo info = classify(a.get());
  EXPECT_EQ(info.cls, FdClass::kStreamSocket);
  EXPECT_EQ(info.description, "unix stream socket");
  EXPECT_EQ(info.access_mode, static_cast<uint32_t>(O_RDWR));
}

TEST_F(FdObjectsTest, ClassifiesTcpSockets) {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(listener.valid());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(listener.get(), 1), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);

  UniqueFd unconnected(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  FdInfo ui = classify(unconnected.get());
  EXPECT_EQ(ui.cls, FdClass::kUnsupported);
  EXPECT_EQ(ui.description, "unconnected tcp socket");

  UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  UniqueFd server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(server.valid());

  for (int fd : {client.get(), server.get()}) {
    FdInfo info = classify(fd);
    EXPECT_EQ(info.cls, FdClass::kStreamSocket);
    EXPECT_EQ(info.description, "tcp socket");
  }
  FdInfo li = classify(listener.get());
  EXPECT_EQ(li.cls, FdClass::kUnsupported);
  EXPECT_EQ(li.description, "listening tcp socket");
}

TEST_F(FdObjectsTest, DatagramSocketIsUnsupported) {
  int raw[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, raw), 0);
  UniqueFd a(raw[0]);
  UniqueFd b(raw[1]);
  FdInfo info = classify(a.get());
  EXPECT_EQ(info.cls, FdClass::kUnsupported);
  EXPECT_EQ(info.description, "unix datagram socket");

  UniqueFd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  FdInfo ui = classify(udp.get());
  EXPECT_EQ(ui.cls, FdClass::kUnsupported);
  EXPECT_THAT(ui.description, HasSubstr("datagram"));
}

TEST_F(FdObjectsTest, DevNullIsCharacterDevice) {
  UniqueFd fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  FdInfo info = classify(fd.get());
  EXPECT_EQ(info.cls, FdClass::kUnsupported);
  EXPECT_EQ(info.description, "character device 1:3");
}

TEST_F(FdObjectsTest, AnonInodesAreUnsupported) {
  UniqueFd efd(::eventfd(0, EFD_CLOEXEC));
  ASSERT_TRUE(efd.valid());
  FdInfo ei = classify(efd.get());
  EXPECT_EQ(ei.cls, FdClass::kUnsupported);
  EXPECT_EQ(ei.description, "eventfd");

  UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  ASSERT_TRUE(ep.valid());
  FdInfo pi = classify(ep.get());
  EXPECT_EQ(pi.cls, FdClass::kUnsupported);
  EXPECT_EQ(pi.description, "epoll");
}

TEST_F(FdObjectsTest, DirectoryAndOPathAreUnsupported) {
  UniqueFd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(dir.valid());
  FdInfo di = classify(dir.get());
  EXPECT_EQ(di.cls, FdClass::kUnsupported);
  EXPECT_EQ(di.description, "directory");

  UniqueFd file = makeFile("abc");
  UniqueFd path(::open(created_.back().c_str(), O_PATH | O_CLOEXEC));
  ASSERT_TRUE(path.valid());
  FdInfo pi = classify(path.get());
  EXPECT_EQ(pi.cls, FdClass::kUnsupported);
  EXPECT_EQ(pi.description, "O_PATH file descriptor");
}

// ---- snapshotFile -------------------------------------------------------------------------------

TEST_F(FdObjectsTest, SnapshotIsExactAndLeavesOffset) {
  const std::string data = binaryBytes(300000, 1);  // every byte value, then random bytes
  UniqueFd fd = makeFile(data, O_RDONLY, 0604);
  ASSERT_EQ(::lseek(fd.get(), 17, SEEK_SET), 17);
  FdInfo info = classify(fd.get());
  absl::StatusOr<v1::FileContents> snap = snapshotFile(fd.get(), info, k64MiB);
  ASSERT_TRUE(snap.ok()) << snap.status();
  EXPECT_EQ(::lseek(fd.get(), 0, SEEK_CUR), 17);
  EXPECT_EQ(snap->kind(), v1::FILE_KIND_REGULAR_FILE);
  EXPECT_EQ(snap->access_mode(), static_cast<uint32_t>(O_RDONLY));
  EXPECT_EQ(snap->file_mode(), 0604u);
  EXPECT_EQ(snap->size(), data.size());
  EXPECT_EQ(snap->seals(), 0u);
  EXPECT_EQ(snap->name(), "");
  ASSERT_EQ(snap->source_case(), v1::FileContents::kContents);
  EXPECT_TRUE(snap->contents() == data);
}

TEST_F(FdObjectsTest, SnapshotOfEmptyFile) {
  UniqueFd fd = makeFile("");
  absl::StatusOr<v1::FileContents> snap = snapshotFile(fd.get(), classify(fd.get()), k64MiB);
  ASSERT_TRUE(snap.ok()) << snap.status();
  EXPECT_EQ(snap->size(), 0u);
  EXPECT_EQ(snap->source_case(), v1::FileContents::kContents);
  EXPECT_EQ(snap->contents(), "");
  // Survives the wire: the empty inline contents stay set.
  v1::FileContents parsed;
  ASSERT_TRUE(parsed.ParseFromString(snap->SerializeAsString()));
  EXPECT_EQ(parsed.source_case(), v1::FileContents::kContents);
}

TEST_F(FdObjectsTest, SnapshotOfMemfd) {
  UniqueFd fd = makeMemfd("shm", std::string("\x00\x01\x02zz", 5), F_SEAL_GROW);
  FdInfo info = classify(fd.get());
  absl::StatusOr<v1::FileContents> snap = snapshotFile(fd.get(), info, k64MiB);
  ASSERT_TRUE(snap.ok()) << snap.status();
  EXPECT_EQ(snap->kind(), v1::FILE_KIND_MEMFD);
  EXPECT_EQ(snap->name(), "shm");
  EXPECT_EQ(snap->seals(), static_cast<uint32_t>(::fcntl(fd.get(), F_GET_SEALS)));
  EXPECT_EQ(snap->contents(), std::string("\x00\x01\x02zz", 5));
}

TEST_F(FdObjectsTest, SnapshotOverLimitIsResourceExhausted) {
  UniqueFd fd = makeMemfd("big", std::string(3 << 20, 'x'), 0);
  absl::StatusOr<v1::FileContents> snap = snapshotFile(fd.get(), classify(fd.get()), 2 << 20);
  ASSERT_EQ(snap.status().code(), absl::StatusCode::kResourceExhausted) << snap.status();
  EXPECT_THAT(snap.status().message(), HasSubstr("memfd 'big' is 3 MiB"));
  EXPECT_THAT(snap.status().message(), HasSubstr("over the 2 MiB limit"));
}

TEST_F(FdObjectsTest, SnapshotRefusesWriteOnlyAndNonFiles) {
  UniqueFd wo = makeFile("secret", O_WRONLY);
  absl::StatusOr<v1::FileContents> snap = snapshotFile(wo.get(), classify(wo.get()), k64MiB);
  EXPECT_EQ(snap.status().code(), absl::StatusCode::kFailedPrecondition) << snap.status();
  EXPECT_THAT(snap.status().message(), HasSubstr("O_WRONLY"));

  int raw[2];
  ASSERT_EQ(::pipe2(raw, O_CLOEXEC), 0);
  UniqueFd r(raw[0]);
  UniqueFd w(raw[1]);
  snap = snapshotFile(r.get(), classify(r.get()), k64MiB);
  EXPECT_EQ(snap.status().code(), absl::StatusCode::kFailedPrecondition) << snap.status();
  EXPECT_THAT(snap.status().message(), HasSubstr("pipe (read end)"));
}

// ---- materializeFile ----------------------------------------------------------------------------

TEST_F(FdObjectsTest, RoundTripReadOnlyFile) {
  const std::string data = binaryBytes(70000, 2);
  UniqueFd fd = makeFile(data, O_RDONLY, 0640);
  absl::StatusOr<v1::FileContents> snap = snapshotFile(fd.get(), classify(fd.get()), k64MiB);
  ASSERT_TRUE(snap.ok()) << snap.status();
  absl::StatusOr<UniqueFd> out = materializeFile(*snap, k64MiB);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(readAll(out->get()) == data);
  EXPECT_EQ(accessMode(out->get()), static_cast<uint32_t>(O_RDONLY));
  EXPECT_EQ(::lseek(out->get(), 0, SEEK_CUR), 0);
  EXPECT_EQ(::fcntl(out->get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  errno = 0;
  EXPECT_EQ(::write(out->get(), "x", 1), -1);
  EXPECT_EQ(errno, EBADF);
  struct stat st {};
  ASSERT_EQ(::fstat(out->get(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  FdInfo info = classify(out->get());
  EXPECT_EQ(info.cls, FdClass::kMemfd);
  EXPECT_EQ(info.name, "nb:");
}

TEST_F(FdObjectsTest, RoundTripReadWriteAppend) {
  UniqueFd fd = makeFile("abc", O_RDWR | O_APPEND);
  absl::StatusOr<v1::FileContents> snap = snapshotFile(fd.get(), classify(fd.get()), k64MiB);
  ASSERT_TRUE(snap.ok()) << snap.status();
  absl::StatusOr<UniqueFd> out = materializeFile(*snap, k64MiB);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(accessMode(out->get()), static_cast<uint32_t>(O_RDWR | O_APPEND));
  ASSERT_EQ(::write(out->get(), "d", 1), 1);  // appended, whatever the offset
  EXPECT_EQ(readAll(out->get()), "abcd");

  snap->set_access_mode(O_RDWR);
  out = materializeFile(*snap, k64MiB);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(accessMode(out->get()), static_cast<uint32_t>(O_RDWR));
  EXPECT_EQ(readAll(out->get()), "abc");
}

TEST_F(FdObjectsTest, MaterializeWriteOnlyAppend) {
  v1::FileContents c;
  c.set_kind(v1::FILE_KIND_REGULAR_FILE);
  c.set_access_mode(O_WRONLY | O_APPEND);
  c.set_file_mode(0600);
  c.set_size(4);
  c.set_contents("log:");
  absl::StatusOr<UniqueFd> out = materializeFile(c, k64MiB);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(accessMode(out->get()), static_cast<uint32_t>(O_WRONLY | O_APPEND));
  char ch;
  EXPECT_EQ(::read(out->get(), &ch, 1), -1);
  ASSERT_EQ(::write(out->get(), "1", 1), 1);
  struct stat st {};
  ASSERT_EQ(::fstat(out->get(), &st), 0);
  EXPECT_EQ(st.st_size, 5);
}

TEST_F(FdObjectsTest, RoundTripMemfdKeepsSealsAndName) {
  UniqueFd fd = makeMemfd("frame buffer", std::string(4096, '\x7f'), F_SEAL_SHRINK | F_SEAL_GROW);
  absl::StatusOr<v1::FileContents> snap = snapshotFile(fd.get(), classify(fd.get()), k64MiB);
  ASSERT_TRUE(snap.ok()) << snap.status();
  absl::StatusOr<UniqueFd> out = materializeFile(*snap, k64MiB);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(::fcntl(out->get(), F_GET_SEALS), ::fcntl(fd.get(), F_GET_SEALS));
  EXPECT_EQ(accessMode(out->get()), static_cast<uint32_t>(O_RDWR));
  EXPECT_EQ(readAll(out->get()), std::string(4096, '\x7f'));
  FdInfo info = classify(out->get());
  EXPECT_EQ(info.cls, FdClass::kMemfd);
  EXPECT_EQ(info.name, "nb:frame buffer");
  EXPECT_EQ(::ftruncate(out->get(), 10), -1);  // F_SEAL_SHRINK holds
  EXPECT_EQ(errno, EPERM);
}

TEST_F(FdObjectsTest, RoundTripWriteSealedMemfd) {
  const unsigned seals = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
  UniqueFd fd = makeMemfd("sealed", "immutable", seals);
  absl::StatusOr<v1::FileContents> snap = snapshotFile(fd.get(), classify(fd.get()), k64MiB);
  ASSERT_TRUE(snap.ok()) << snap.status();
  for (uint32_t mode : {uint32_t{O_RDWR}, uint32_t{O_RDONLY}}) {
    snap->set_access_mode(mode);
    absl::StatusOr<UniqueFd> out = materializeFile(*snap, k64MiB);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(::fcntl(out->get(), F_GET_SEALS), ::fcntl(fd.get(), F_GET_SEALS));
    EXPECT_EQ(accessMode(out->get()), mode);
    EXPECT_EQ(readAll(out->get()), "immutable");
    EXPECT_EQ(::pwrite(out->get(), "X", 1, 0), -1);
    EXPECT_EQ(errno, mode == O_RDWR ? EPERM : EBADF);
  }
  // O_WRONLY on a write-sealed memfd: the sender's mode if the kernel allows that open, else the
  // documented read-only fallback; never writable either way.
  snap->set_access_mode(O_WRONLY);
  absl::StatusOr<UniqueFd> out = materializeFile(*snap, k64MiB);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_NE(accessMode(out->get()) & O_ACCMODE, static_cast<uint32_t>(O_RDWR));
  EXPECT_EQ(::pwrite(out->get(), "X", 1, 0), -1);
}

TEST_F(FdObjectsTest, MaterializeTruncatesLongNames) {
  v1::FileContents c;
  c.set_kind(v1::FILE_KIND_MEMFD);
  c.set_access_mode(O_RDWR);
  c.set_name(std::string(400, 'n'));
  c.set_contents("");
  absl::StatusOr<UniqueFd> out = materializeFile(c, k64MiB);
  ASSERT_TRUE(out.ok()) << out.status();
  FdInfo info = classify(out->get());
  EXPECT_THAT(info.name, StartsWith("nb:nnnn"));
  EXPECT_LE(info.name.size(), 249u);
}

TEST_F(FdObjectsTest, MaterializeRefusesInvalidMessages) {
  v1::FileContents good;
  good.set_kind(v1::FILE_KIND_MEMFD);
  good.set_access_mode(O_RDWR);
  good.set_size(3);
  good.set_contents("abc");
  ASSERT_TRUE(materializeFile(good, k64MiB).ok());

  auto expectRefused = [](const v1::FileContents& c, absl::StatusCode code, const char* what) {
    absl::StatusOr<UniqueFd> out = materializeFile(c, k64MiB);
    EXPECT_EQ(out.status().code(), code) << what << ": " << out.status();
  };
  v1::FileContents c = good;
  c.set_kind(v1::FILE_KIND_UNSPECIFIED);
  expectRefused(c, absl::StatusCode::kInvalidArgument, "unspecified kind");
  c = good;
  c.set_kind(static_cast<v1::FileKind>(7));
  expectRefused(c, absl::StatusCode::kInvalidArgument, "unknown kind");
  c = good;
  c.set_size(4);
  expectRefused(c, absl::StatusCode::kInvalidArgument, "size != contents");
  c = good;
  c.set_kind(v1::FILE_KIND_REGULAR_FILE);
  c.set_seals(F_SEAL_GROW);
  expectRefused(c, absl::StatusCode::kInvalidArgument, "seals on a regular file");
  c = good;
  c.set_seals(0x8000);
  expectRefused(c, absl::StatusCode::kInvalidArgument, "unknown seal bits");
  c = good;
  c.set_access_mode(O_ACCMODE);
  expectRefused(c, absl::StatusCode::kInvalidArgument, "access mode 3");
  c = good;
  c.set_access_mode(O_RDWR | O_NONBLOCK);
  expectRefused(c, absl::StatusCode::kInvalidArgument, "flags beyond O_ACCMODE|O_APPEND");
  c = good;
  c.set_file_mode(010644);
  expectRefused(c, absl::StatusCode::kInvalidArgument, "file type bits in file_mode");
  c = good;
  c.clear_contents();
  expectRefused(c, absl::StatusCode::kInvalidArgument, "no contents");
  c = good;
  c.set_content_stream_id(5);
  expectRefused(c, absl::StatusCode::kInvalidArgument, "contents on a stream");

  c = good;
  c.set_size(10);
  c.set_contents(std::string(10, 'z'));
  absl::StatusOr<UniqueFd> out = materializeFile(c, 9);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted) << out.status();
}

}  // namespace
}  // namespace nb::gateway
