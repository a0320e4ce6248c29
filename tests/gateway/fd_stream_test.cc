// FdStream (gateway/fd/fd_stream.h): two streams wired back to back through an in-process fake
// link (one delivery thread per direction), each around one end of a local pipe or socketpair
// whose other end the test uses as "the local process". Every wait is bounded; every test checks
// on_finished ran exactly once per stream and that no fd is left open.
#include "gateway/fd/fd_stream.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nb::gateway {
namespace {

using netbinder::v1::FdStreamChunk;
using std::chrono::milliseconds;
using std::chrono::steady_clock;
using ::testing::HasSubstr;

int countOpenFds() {
  int count = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  while (dirent* entry = ::readdir(dir)) {
    count += entry->d_name[0] != '.';
  }
  ::closedir(dir);
  return count - 1;  // the DIR's own fd
}

void setNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

struct FdPair {
  UniqueFd a;  // pipe: read end
  UniqueFd b;  // pipe: write end
};

FdPair makePipe() {
  int fds[2];
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

FdPair makeSocketPair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

int remainingMs(steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// Writes all of `data` to a non-blocking fd; 0 on success, else the errno (ETIMEDOUT at the
// deadline).
int writeAll(int fd, const char* data, size_t len, steady_clock::time_point deadline) {
  while (len > 0) {
    const ssize_t n = ::send(fd, data, len, MSG_NOSIGNAL);
    const ssize_t m = (n < 0 && errno == ENOTSOCK) ? ::write(fd, data, len) : n;
    if (m > 0) {
      data += m;
      len -= static_cast<size_t>(m);
      continue;
    }
    if (errno != EAGAIN && errno != EINTR) {
      return errno;
    }
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, remainingMs(deadline)) == 0) {
      return ETIMEDOUT;
    }
  }
  return 0;
}

// Reads a non-blocking fd until EOF (true), or an error or the deadline (false, errno says which).
bool readToEof(int fd, std::string* out, steady_clock::time_point deadline) {
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      out->append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      return true;
    }
    if (errno != EAGAIN && errno != EINTR) {
      return false;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, remainingMs(deadline)) == 0) {
      errno = ETIMEDOUT;
      return false;
    }
  }
}

std::string pattern(size_t len, uint64_t seed) {
  std::string s(len, '\0');
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < len; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

uint64_t fnv1a(uint64_t hash, const char* data, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    hash = (hash ^ static_cast<unsigned char>(data[i])) * 0x100000001b3ull;
  }
  return hash;
}
constexpr uint64_t kFnvBasis = 0xcbf29ce484222325ull;

// on_finished calls per stream id.
class FinishLog {
 public:
  std::function<void(uint64_t)> callback() {
    return [this](uint64_t id) {
      std::lock_guard<std::mutex> lock(mu_);
      ++counts_[id];
      cv_.notify_all();
    };
  }
  bool waitFor(uint64_t id, milliseconds timeout = milliseconds(5000)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return counts_[id] > 0; });
  }
  int count(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    return counts_[id];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, int> counts_;
};

// Two sides (0 and 1); what side s sends is delivered to the other side's stream by a thread.
// Also measures the data outstanding per direction: data sent minus credit granted back, counted
// when each chunk is sent — flow control bounds it by the window.
class FakeLink {
 public:
  struct Stats {
    uint64_t data = 0;
    uint64_t credit = 0;
    int eofs = 0;
    int resets = 0;
    int reset_errno = 0;
    int chunks = 0;
    uint64_t max_outstanding = 0;      // of this side's data
    uint64_t max_buffered_remote = 0;  // the receiver's bufferedToLocal(), sampled
  };

  FakeLink() = default;
  ~FakeLink() { stop(); }

  std::function<bool(FdStreamChunk&&)> sender(int side) {
    return [this, side](FdStreamChunk&& chunk) {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_ || gone_) {
        return false;
      }
      Stats& st = stats_[side];
      ++st.chunks;
      st.data += chunk.data().size();
      st.credit += chunk.credit();
      st.eofs += chunk.eof();
      if (chunk.reset()) {
        ++st.resets;
        st.reset_errno = chunk.reset_errno();
      }
      st.max_outstanding = std::max(st.max_outstanding, st.data - stats_[1 - side].credit);
      queues_[side].push_back(std::move(chunk));
      cv_.notify_all();
      return true;
    };
  }

  void attach(FdStream* side0, FdStream* side1) {
    streams_[0] = side0;
    streams_[1] = side1;
    for (int side = 0; side < 2; ++side) {
      threads_[side] = std::thread([this, side] { deliver(side); });
    }
  }

  // Later sends return false ("session gone").
  void setGone() {
    std::lock_guard<std::mutex> lock(mu_);
    gone_ = true;
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
      cv_.notify_all();
    }
    for (auto& t : threads_) {
      if (t.joinable()) {
        t.join();
      }
    }
  }

  Stats stats(int side) {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_[side];
  }
  std::vector<std::string> errors() {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_;
  }

 private:
  void deliver(int side) {
    FdStream* target = streams_[1 - side];
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stopped_ || !queues_[side].empty(); });
      if (stopped_) {
        return;
      }
      FdStreamChunk chunk = std::move(queues_[side].front());
      queues_[side].pop_front();
      lock.unlock();
      absl::Status status = target->onChunk(chunk);
      const uint64_t buffered = target->bufferedToLocal();
      lock.lock();
      if (!status.ok()) {
        errors_.push_back(status.ToString());
      }
      stats_[side].max_buffered_remote = std::max(stats_[side].max_buffered_remote, buffered);
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  bool gone_ = false;
  std::deque<FdStreamChunk> queues_[2];
  Stats stats_[2];
  std::vector<std::string> errors_;
  FdStream* streams_[2] = {nullptr, nullptr};
  std::thread threads_[2];
};

class FdStreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::signal(SIGPIPE, SIG_IGN); }
  void SetUp() override { fds_before_ = countOpenFds(); }
  void TearDown() override {
    link_.stop();
    a_.reset();
    b_.reset();
    EXPECT_EQ(countOpenFds(), fds_before_) << "fd leak";
  }

  FdStreamOptions options(uint64_t id, StreamDirection direction, int side) {
    FdStreamOptions o;
    o.stream_id = id;
    o.direction = direction;
    o.window_to_local = kWindow;
    o.window_to_peer = kWindow;
    o.max_chunk_bytes = kChunk;
    o.send = link_.sender(side);
    o.on_finished = finish_log_.callback();
    return o;
  }

  // A reads `local_a` (or both ways), B writes `local_b`; wired through link_.
  void startPair(UniqueFd local_a, StreamDirection dir_a, UniqueFd local_b, StreamDirection dir_b) {
    auto a = FdStream::start(std::move(local_a), options(kIdA, dir_a, 0));
    auto b = FdStream::start(std::move(local_b), options(kIdB, dir_b, 1));
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE(b.ok()) << b.status();
    a_ = *std::move(a);
    b_ = *std::move(b);
    link_.attach(a_.get(), b_.get());
  }

  void expectBothFinishedOnce() {
    EXPECT_TRUE(finish_log_.waitFor(kIdA));
    EXPECT_TRUE(finish_log_.waitFor(kIdB));
    std::this_thread::sleep_for(milliseconds(20));  // a second call would show up here
    EXPECT_EQ(finish_log_.count(kIdA), 1);
    EXPECT_EQ(finish_log_.count(kIdB), 1);
    EXPECT_TRUE(a_->finished());
    EXPECT_TRUE(b_->finished());
  }

  static constexpr uint64_t kIdA = 1;
  static constexpr uint64_t kIdB = 2;
  static constexpr uint64_t kWindow = 256 * 1024;
  static constexpr size_t kChunk = 64 * 1024;

  int fds_before_ = 0;
  FinishLog finish_log_;
  FakeLink link_;
  std::unique_ptr<FdStream> a_;
  std::unique_ptr<FdStream> b_;
};

// The local process writes 256 MiB into a pipe; they come out of the pipe on the other side, in
// order, and neither the link nor the receiver ever holds more than the window.
TEST_F(FdStreamTest, PipeTransfer256MiBBoundedByWindow) {
  constexpr size_t kTotal = 256u << 20;
  constexpr size_t kBlock = 1u << 20;
  FdPair in = makePipe();   // app writes in.b, A reads in.a
  FdPair out = makePipe();  // B writes out.b, app reads out.a
  setNonBlocking(in.b.get());
  setNonBlocking(out.a.get());
  startPair(std::move(in.a), StreamDirection::kLocalToPeer, std::move(out.b),
            StreamDirection::kPeerToLocal);
  const auto deadline = steady_clock::now() + std::chrono::seconds(120);
  const auto started = steady_clock::now();

  uint64_t sent_hash = kFnvBasis;
  int write_error = -1;
  std::thread writer([&] {
    std::vector<std::string> blocks;
    for (uint64_t seed = 0; seed < 4; ++seed) {
      blocks.push_back(pattern(kBlock, seed + 1));
    }
    int error = 0;
    for (size_t done = 0; done < kTotal && error == 0; done += kBlock) {
      const std::string& block = blocks[(done / kBlock) % blocks.size()];
      sent_hash = fnv1a(sent_hash, block.data(), block.size());
      error = writeAll(in.b.get(), block.data(), block.size(), deadline);
    }
    in.b.reset();  // eof
    write_error = error;
  });
  uint64_t received = 0;
  uint64_t received_hash = kFnvBasis;
  bool eof = false;
  {
    char buf[65536];
    while (!eof) {
      const ssize_t n = ::read(out.a.get(), buf, sizeof buf);
      if (n > 0) {
        received += static_cast<uint64_t>(n);
        received_hash = fnv1a(received_hash, buf, static_cast<size_t>(n));
      } else if (n == 0) {
        eof = true;
      } else {
        pollfd p{out.a.get(), POLLIN, 0};
        if (::poll(&p, 1, remainingMs(deadline)) == 0) {
          break;
        }
      }
    }
  }
  const double seconds = std::chrono::duration<double>(steady_clock::now() - started).count();
  writer.join();
  ASSERT_TRUE(eof) << "no EOF before the deadline; received " << received;
  EXPECT_EQ(write_error, 0);
  EXPECT_EQ(received, kTotal);
  EXPECT_EQ(received_hash, sent_hash);
  const double mib_per_s = static_cast<double>(kTotal) / (1 << 20) / seconds;
  std::cout << "256 MiB through the pipe stream in " << seconds << " s (" << mib_per_s
            << " MiB/s)\n";
  RecordProperty("throughput_mib_per_s", static_cast<int>(mib_per_s));

  expectBothFinishedOnce();
  const FakeLink::Stats a_stats = link_.stats(0);
  const FakeLink::Stats b_stats = link_.stats(1);
  EXPECT_EQ(a_stats.data, kTotal);
  EXPECT_EQ(a_stats.eofs, 1);
  EXPECT_EQ(a_stats.resets, 0);
  EXPECT_EQ(b_stats.data, 0u);
  EXPECT_EQ(b_stats.resets, 0);
  EXPECT_LE(a_stats.max_outstanding, kWindow);
  EXPECT_LE(a_stats.max_buffered_remote, kWindow);
  EXPECT_GT(a_stats.max_outstanding, 0u);
  // Grants are batched: far fewer credit frames than writes of 4 KiB would make.
  EXPECT_LT(b_stats.chunks, static_cast<int>(kTotal / (kChunk / 2)) + 8);
  EXPECT_THAT(link_.errors(), ::testing::IsEmpty());
}

TEST_F(FdStreamTest, EofPropagatesThroughPipe) {
  FdPair in = makePipe();
  FdPair out = makePipe();
  setNonBlocking(out.a.get());
  startPair(std::move(in.a), StreamDirection::kLocalToPeer, std::move(out.b),
            StreamDirection::kPeerToLocal);
  ASSERT_EQ(::write(in.b.get(), "hello", 5), 5);
  in.b.reset();
  std::string got;
  EXPECT_TRUE(readToEof(out.a.get(), &got, steady_clock::now() + std::chrono::seconds(5)));
  EXPECT_EQ(got, "hello");
  expectBothFinishedOnce();
  EXPECT_EQ(link_.stats(0).eofs, 1);
  EXPECT_THAT(link_.errors(), ::testing::IsEmpty());
}

TEST_F(FdStreamTest, EmptyPipeEof) {
  FdPair in = makePipe();
  FdPair out = makePipe();
  setNonBlocking(out.a.get());
  startPair(std::move(in.a), StreamDirection::kLocalToPeer, std::move(out.b),
            StreamDirection::kPeerToLocal);
  in.b.reset();
  std::string got;
  EXPECT_TRUE(readToEof(out.a.get(), &got, steady_clock::now() + std::chrono::seconds(5)));
  EXPECT_EQ(got, "");
  expectBothFinishedOnce();
}

// Side 1 half-closes (shutdown SHUT_WR); side 2 reads to EOF and still answers, then closes.
TEST_F(FdStreamTest, SocketHalfCloseBothWays) {
  FdPair s1 = makeSocketPair();  // app uses s1.a, A holds s1.b
  FdPair s2 = makeSocketPair();  // app uses s2.a, B holds s2.b
  setNonBlocking(s1.a.get());
  setNonBlocking(s2.a.get());
  startPair(std::move(s1.b), StreamDirection::kBoth, std::move(s2.b), StreamDirection::kBoth);
  const auto deadline = steady_clock::now() + std::chrono::seconds(20);
  const std::string request = pattern(3u << 20, 7);
  const std::string response = pattern(2u << 20, 8);

  std::thread app1_writer([&] {
    EXPECT_EQ(writeAll(s1.a.get(), request.data(), request.size(), deadline), 0);
    ::shutdown(s1.a.get(), SHUT_WR);
  });
  std::string got_request;
  EXPECT_TRUE(readToEof(s2.a.get(), &got_request, deadline));
  app1_writer.join();
  EXPECT_TRUE(got_request == request) << got_request.size();
  EXPECT_FALSE(a_->finished());  // the other direction is still open

  std::thread app2_writer([&] {
    EXPECT_EQ(writeAll(s2.a.get(), response.data(), response.size(), deadline), 0);
    s2.a.reset();
  });
  std::string got_response;
  EXPECT_TRUE(readToEof(s1.a.get(), &got_response, deadline));
  app2_writer.join();
  EXPECT_TRUE(got_response == response) << got_response.size();
  expectBothFinishedOnce();
  EXPECT_EQ(link_.stats(0).resets, 0);
  EXPECT_EQ(link_.stats(1).resets, 0);
  EXPECT_EQ(link_.stats(0).eofs, 1);
  EXPECT_EQ(link_.stats(1).eofs, 1);
  EXPECT_LE(link_.stats(0).max_outstanding, kWindow);
  EXPECT_LE(link_.stats(1).max_outstanding, kWindow);
  EXPECT_THAT(link_.errors(), ::testing::IsEmpty());
}

// Both local processes write 16 MiB at once and then half-close; each reads the other's bytes.
TEST_F(FdStreamTest, SocketConcurrentBothDirections) {
  FdPair s1 = makeSocketPair();
  FdPair s2 = makeSocketPair();
  setNonBlocking(s1.a.get());
  setNonBlocking(s2.a.get());
  startPair(std::move(s1.b), StreamDirection::kBoth, std::move(s2.b), StreamDirection::kBoth);
  const auto deadline = steady_clock::now() + std::chrono::seconds(30);
  const std::string one = pattern(16u << 20, 1);
  const std::string two = pattern(16u << 20, 2);
  auto run = [&](int fd, const std::string& data, std::string* got) {
    std::thread w([&] {
      EXPECT_EQ(writeAll(fd, data.data(), data.size(), deadline), 0);
      ::shutdown(fd, SHUT_WR);
    });
    EXPECT_TRUE(readToEof(fd, got, deadline));
    w.join();
  };
  std::string got1;
  std::string got2;
  std::thread t1([&] { run(s1.a.get(), one, &got1); });
  std::thread t2([&] { run(s2.a.get(), two, &got2); });
  t1.join();
  t2.join();
  EXPECT_TRUE(got1 == two);
  EXPECT_TRUE(got2 == one);
  expectBothFinishedOnce();
  EXPECT_THAT(link_.errors(), ::testing::IsEmpty());
}

// The receiving process closes its read end early: B's write fails with EPIPE, B resets, A closes
// its read end, and the sending process's writes fail with EPIPE.
TEST_F(FdStreamTest, LocalReaderClosesEarly) {
  FdPair in = makePipe();
  FdPair out = makePipe();
  setNonBlocking(in.b.get());
  setNonBlocking(out.a.get());
  startPair(std::move(in.a), StreamDirection::kLocalToPeer, std::move(out.b),
            StreamDirection::kPeerToLocal);
  const auto deadline = steady_clock::now() + std::chrono::seconds(10);
  int write_error = 0;
  std::thread writer([&] {
    const std::string block = pattern(1u << 20, 3);
    while (write_error == 0) {
      write_error = writeAll(in.b.get(), block.data(), block.size(), deadline);
    }
  });
  char buf[4096];
  size_t got = 0;
  while (got < (1u << 20) && remainingMs(deadline) > 0) {
    const ssize_t n = ::read(out.a.get(), buf, sizeof buf);
    if (n > 0) {
      got += static_cast<size_t>(n);
    } else {
      pollfd p{out.a.get(), POLLIN, 0};
      ::poll(&p, 1, 100);
    }
  }
  out.a.reset();  // the reader goes away
  writer.join();
  EXPECT_EQ(write_error, EPIPE);
  expectBothFinishedOnce();
  EXPECT_EQ(link_.stats(1).resets, 1);
  EXPECT_EQ(link_.stats(1).reset_errno, EPIPE);
  EXPECT_EQ(link_.stats(0).resets, 0);
  EXPECT_THAT(link_.errors(), ::testing::IsEmpty());
}

// An idle pipe write end notices its reader closing (POLLERR) without anything to write.
TEST_F(FdStreamTest, IdleReaderCloseResetsPeer) {
  FdPair in = makePipe();
  FdPair out = makePipe();
  startPair(std::move(in.a), StreamDirection::kLocalToPeer, std::move(out.b),
            StreamDirection::kPeerToLocal);
  out.a.reset();
  expectBothFinishedOnce();
  EXPECT_EQ(link_.stats(1).reset_errno, EPIPE);
  EXPECT_EQ(::write(in.b.get(), "x", 1), -1);
  EXPECT_EQ(errno, EPIPE);
}

// close() in the middle of a transfer returns at once; the writer sees EPIPE, the reader EOF.
TEST_F(FdStreamTest, CloseWhileTransferRunning) {
  FdPair in = makePipe();
  FdPair out = makePipe();
  setNonBlocking(in.b.get());
  setNonBlocking(out.a.get());
  startPair(std::move(in.a), StreamDirection::kLocalToPeer, std::move(out.b),
            StreamDirection::kPeerToLocal);
  const auto deadline = steady_clock::now() + std::chrono::seconds(10);
  int write_error = 0;
  std::thread writer([&] {
    const std::string block = pattern(1u << 20, 4);
    while (write_error == 0) {
      write_error = writeAll(in.b.get(), block.data(), block.size(), deadline);
    }
  });
  std::string got;
  bool eof = false;
  std::thread reader([&] { eof = readToEof(out.a.get(), &got, deadline); });
  std::this_thread::sleep_for(milliseconds(100));
  const auto before = steady_clock::now();
  a_->close(/*notify_peer=*/true);
  const auto took = steady_clock::now() - before;
  EXPECT_LT(took, milliseconds(1000));
  writer.join();
  reader.join();
  EXPECT_EQ(write_error, EPIPE);
  EXPECT_TRUE(eof);
  EXPECT_GT(got.size(), 0u);
  expectBothFinishedOnce();
  EXPECT_EQ(link_.stats(0).resets, 1);
  a_->close(true);  // idempotent
  EXPECT_EQ(link_.stats(0).resets, 1);
}

// close() on the receiving side while its local writes would block (nobody reads).
TEST_F(FdStreamTest, CloseWhileLocalWriteBlocked) {
  FdPair in = makePipe();
  FdPair out = makePipe();
  setNonBlocking(in.b.get());
  setNonBlocking(out.a.get());
  startPair(std::move(in.a), StreamDirection::kLocalToPeer, std::move(out.b),
            StreamDirection::kPeerToLocal);
  const auto deadline = steady_clock::now() + std::chrono::seconds(10);
  int write_error = 0;
  std::thread writer([&] {
    const std::string block = pattern(64u << 10, 5);
    while (write_error == 0) {
      write_error = writeAll(in.b.get(), block.data(), block.size(), deadline);
    }
  });
  // Let everything fill up: the app pipe, B's queue (the window), the writer's pipe.
  const auto fill_until = steady_clock::now() + std::chrono::seconds(3);
  while (b_->bufferedToLocal() < kWindow / 2 && steady_clock::now() < fill_until) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_GT(b_->bufferedToLocal(), 0u);
  EXPECT_LE(b_->bufferedToLocal(), kWindow);
  const auto before = steady_clock::now();
  b_->close(/*notify_peer=*/true);
  EXPECT_LT(steady_clock::now() - before, milliseconds(1000));
  std::string got;
  EXPECT_TRUE(readToEof(out.a.get(), &got, deadline));  // what reached the pipe, then EOF
  writer.join();
  EXPECT_EQ(write_error, EPIPE);
  expectBothFinishedOnce();
  EXPECT_EQ(link_.stats(1).resets, 1);
}

// Without a link: protocol violations the stream must refuse.
TEST_F(FdStreamTest, WindowOverrunAndDataAfterEofRejected) {
  FdPair out = makePipe();
  std::atomic<int> sends{0};
  FdStreamOptions o = options(kIdB, StreamDirection::kPeerToLocal, 1);
  o.window_to_local = 1024;
  o.send = [&sends](FdStreamChunk&&) {
    ++sends;
    return true;
  };
  auto b = FdStream::start(std::move(out.b), std::move(o));
  ASSERT_TRUE(b.ok()) << b.status();
  b_ = *std::move(b);

  FdStreamChunk chunk;
  chunk.set_stream_id(kIdB);
  chunk.set_data(std::string(1025, 'x'));
  absl::Status status = b_->onChunk(chunk);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("window overrun"));
  EXPECT_EQ(b_->bufferedToLocal(), 0u);

  chunk.set_data(std::string(1024, 'y'));
  EXPECT_TRUE(b_->onChunk(chunk).ok());
  chunk.clear_data();
  chunk.set_eof(true);
  EXPECT_TRUE(b_->onChunk(chunk).ok());
  chunk.set_eof(false);
  chunk.set_data("z");
  status = b_->onChunk(chunk);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("after the peer's eof"));

  std::string got;
  setNonBlocking(out.a.get());
  EXPECT_TRUE(readToEof(out.a.get(), &got, steady_clock::now() + std::chrono::seconds(5)));
  EXPECT_EQ(got, std::string(1024, 'y'));
  EXPECT_TRUE(finish_log_.waitFor(kIdB));
  EXPECT_EQ(finish_log_.count(kIdB), 1);
  // Still refused after the stream finished.
  EXPECT_EQ(b_->onChunk(chunk).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(FdStreamTest, DataForAMissingDirectionRejected) {
  FdPair in = makePipe();
  FdStreamOptions o = options(kIdA, StreamDirection::kLocalToPeer, 0);
  o.send = [](FdStreamChunk&&) { return true; };
  auto a = FdStream::start(std::move(in.a), std::move(o));
  ASSERT_TRUE(a.ok());
  a_ = *std::move(a);
  FdStreamChunk chunk;
  chunk.set_data("x");
  EXPECT_EQ(a_->onChunk(chunk).code(), absl::StatusCode::kInvalidArgument);
  // A reset ends it; chunks after that are ignored.
  FdStreamChunk reset;
  reset.set_reset(true);
  EXPECT_TRUE(a_->onChunk(reset).ok());
  EXPECT_TRUE(finish_log_.waitFor(kIdA));
  EXPECT_TRUE(a_->onChunk(chunk).ok());
  EXPECT_EQ(::write(in.b.get(), "x", 1), -1);  // our read end is gone
  EXPECT_EQ(errno, EPIPE);
  EXPECT_EQ(finish_log_.count(kIdA), 1);
}

// send() returning false (session gone): the stream closes itself without sending more.
TEST_F(FdStreamTest, SendFailureClosesStream) {
  FdPair in = makePipe();
  std::atomic<int> sends{0};
  FdStreamOptions o = options(kIdA, StreamDirection::kLocalToPeer, 0);
  o.send = [&sends](FdStreamChunk&&) {
    ++sends;
    return false;
  };
  auto a = FdStream::start(std::move(in.a), std::move(o));
  ASSERT_TRUE(a.ok());
  a_ = *std::move(a);
  ASSERT_EQ(::write(in.b.get(), "data", 4), 4);
  EXPECT_TRUE(finish_log_.waitFor(kIdA));
  EXPECT_TRUE(a_->finished());
  EXPECT_EQ(::write(in.b.get(), "x", 1), -1);
  EXPECT_EQ(errno, EPIPE);
  a_->close(true);  // no reset either: nothing is sent after a failed send
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(sends.load(), 1);
  EXPECT_EQ(finish_log_.count(kIdA), 1);
}

// Through the link: the session goes away mid-transfer; both sides close their fds.
TEST_F(FdStreamTest, SessionGoneMidTransfer) {
  FdPair s1 = makeSocketPair();
  FdPair s2 = makeSocketPair();
  setNonBlocking(s1.a.get());
  setNonBlocking(s2.a.get());
  startPair(std::move(s1.b), StreamDirection::kBoth, std::move(s2.b), StreamDirection::kBoth);
  const std::string block = pattern(1u << 20, 9);
  const auto deadline = steady_clock::now() + std::chrono::seconds(10);
  std::thread w([&] { writeAll(s1.a.get(), block.data(), block.size(), deadline); });
  std::this_thread::sleep_for(milliseconds(20));
  link_.setGone();
  a_->close(/*notify_peer=*/true);  // session teardown closes every stream
  b_->close(/*notify_peer=*/true);
  w.join();
  // B's socket: EOF. A's socket had unread data when it closed: the process sees ECONNRESET
  // (as with a real unix socket closed by its owner), or EOF.
  std::string got;
  EXPECT_TRUE(readToEof(s2.a.get(), &got, deadline));
  got.clear();
  const bool eof = readToEof(s1.a.get(), &got, deadline);
  EXPECT_TRUE(eof || errno == ECONNRESET) << std::strerror(errno);
  expectBothFinishedOnce();
}

// A reset from the peer closes a socket at once: the local process reads EOF, writes get EPIPE.
TEST_F(FdStreamTest, PeerResetClosesSocket) {
  FdPair s = makeSocketPair();
  std::atomic<int> sends{0};
  FdStreamOptions o = options(kIdB, StreamDirection::kBoth, 1);
  o.send = [&sends](FdStreamChunk&&) {
    ++sends;
    return true;
  };
  auto b = FdStream::start(std::move(s.b), std::move(o));
  ASSERT_TRUE(b.ok());
  b_ = *std::move(b);
  FdStreamChunk reset;
  reset.set_reset(true);
  reset.set_reset_errno(ECONNRESET);
  EXPECT_TRUE(b_->onChunk(reset).ok());
  setNonBlocking(s.a.get());
  std::string got;
  EXPECT_TRUE(readToEof(s.a.get(), &got, steady_clock::now() + std::chrono::seconds(2)));
  EXPECT_EQ(::send(s.a.get(), "x", 1, MSG_NOSIGNAL), -1);
  EXPECT_EQ(errno, EPIPE);
  EXPECT_TRUE(finish_log_.waitFor(kIdB));
  EXPECT_EQ(sends.load(), 0);
  EXPECT_EQ(finish_log_.count(kIdB), 1);
}

// Destroying a live stream closes it (and joins) without leaking; on_finished still runs once.
TEST_F(FdStreamTest, DestroyWhileActive) {
  FdPair s1 = makeSocketPair();
  FdPair s2 = makeSocketPair();
  startPair(std::move(s1.b), StreamDirection::kBoth, std::move(s2.b), StreamDirection::kBoth);
  ASSERT_EQ(::write(s1.a.get(), "abc", 3), 3);
  link_.stop();
  a_.reset();
  b_.reset();
  EXPECT_EQ(finish_log_.count(kIdA), 1);
  EXPECT_EQ(finish_log_.count(kIdB), 1);
}

// Destroying the stream from its own on_finished callback (as an owner's map erase would).
TEST_F(FdStreamTest, DestroyFromOnFinished) {
  FdPair in = makePipe();
  std::mutex mu;
  std::condition_variable cv;
  bool destroyed = false;
  std::unique_ptr<FdStream> self;
  FdStreamOptions o = options(kIdA, StreamDirection::kLocalToPeer, 0);
  o.send = [](FdStreamChunk&&) { return true; };
  o.on_finished = [&](uint64_t) {
    std::lock_guard<std::mutex> lock(mu);
    self.reset();
    destroyed = true;
    cv.notify_all();
  };
  {
    std::lock_guard<std::mutex> lock(mu);
    auto a = FdStream::start(std::move(in.a), std::move(o));
    ASSERT_TRUE(a.ok());
    self = *std::move(a);
  }
  in.b.reset();  // eof → finished → on_finished destroys the stream
  std::unique_lock<std::mutex> lock(mu);
  EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(5), [&] { return destroyed; }));
  lock.unlock();
  std::this_thread::sleep_for(milliseconds(50));  // the detached thread exits
}

// SIGPIPE at its default disposition: a write to a pipe whose reader is gone must not kill the
// gateway (the stream's thread blocks and consumes it). Run in a child process.
TEST_F(FdStreamTest, SigpipeDoesNotKillTheProcess) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::signal(SIGPIPE, SIG_DFL);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      ::_exit(2);
    }
    ::close(fds[0]);  // no reader
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    FdStreamOptions o;
    o.stream_id = 5;
    o.direction = StreamDirection::kPeerToLocal;
    o.send = [](FdStreamChunk&&) { return true; };
    o.on_finished = [&](uint64_t) {
      std::lock_guard<std::mutex> lock(mu);
      done = true;
      cv.notify_all();
    };
    auto stream = FdStream::start(UniqueFd(fds[1]), std::move(o));
    if (!stream.ok()) {
      ::_exit(3);
    }
    FdStreamChunk chunk;
    chunk.set_data(std::string(1000, 'x'));
    if (!(*stream)->onChunk(chunk).ok()) {
      ::_exit(4);
    }
    std::unique_lock<std::mutex> lock(mu);
    const bool finished = cv.wait_for(lock, std::chrono::seconds(5), [&] { return done; });
    lock.unlock();
    stream->reset();
    ::_exit(finished ? 0 : 5);
  }
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  EXPECT_TRUE(WIFEXITED(wstatus)) << "killed by signal " << WTERMSIG(wstatus);
  EXPECT_EQ(WEXITSTATUS(wstatus), 0);
}

TEST_F(FdStreamTest, StartRejectsBadArguments) {
  EXPECT_FALSE(FdStream::start(UniqueFd(), options(kIdA, StreamDirection::kBoth, 0)).ok());
  FdPair p = makePipe();
  // A two-way stream needs a socket.
  EXPECT_EQ(
      FdStream::start(std::move(p.a), options(kIdA, StreamDirection::kBoth, 0)).status().code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace nb::gateway
