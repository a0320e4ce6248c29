// Unit tests of the client side that need no daemon: SEQPACKET framing (wire.h), fault-safe user
// copies, and the library's errors when binderd is absent.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "local_driver/client/binder_client.h"
#include "local_driver/client/safe_memory.h"
#include "local_driver/client/seqpacket.h"
#include "local_driver/client/wire.h"

namespace nb::client {
namespace {

class SeqpacketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv_), 0);
  }
  void TearDown() override {
    ::close(sv_[0]);
    ::close(sv_[1]);
  }
  int sv_[2] = {-1, -1};
};

TEST_F(SeqpacketTest, RoundTripWithFiles) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  wire::OpenRequest req;
  req.open_flags = O_RDWR;
  const int fds[2] = {p[0], p[1]};
  ASSERT_EQ(sendMessage(sv_[0], wire::Op::kOpen, 0, bytesOf(req), fds), 0);
  Message msg;
  ASSERT_EQ(recvMessage(sv_[1], msg), 0);
  EXPECT_EQ(msg.op(), wire::Op::kOpen);
  ASSERT_EQ(msg.payload.size(), sizeof(req));
  wire::OpenRequest got;
  std::memcpy(&got, msg.payload.data(), sizeof(got));
  EXPECT_EQ(got.open_flags, static_cast<uint32_t>(O_RDWR));
  ASSERT_EQ(msg.fds.size(), 2u);
  EXPECT_EQ(::fcntl(msg.fds[0], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  ASSERT_EQ(::write(msg.fds[1], "x", 1), 1);
  char c = 0;
  ASSERT_EQ(::read(p[0], &c, 1), 1);
  EXPECT_EQ(c, 'x');
  msg.closeFds();
  ::close(p[0]);
  ::close(p[1]);
}

TEST_F(SeqpacketTest, MultiPartPayloadIsConcatenated) {
  const uint8_t a[3] = {1, 2, 3};
  const uint8_t b[2] = {4, 5};
  const std::span<const uint8_t> parts[3] = {a, {}, b};
  ASSERT_EQ(sendMessage(sv_[0], wire::Op::kReply, 7, parts), 0);
  Message msg;
  ASSERT_EQ(recvMessage(sv_[1], msg), 0);
  EXPECT_EQ(msg.header.error, 7);
  EXPECT_EQ(msg.payload, (std::vector<uint8_t>{1, 2, 3, 4, 5}));
}

TEST_F(SeqpacketTest, MalformedDatagramsAreRejected) {
  Message msg;
  // Too short for a header.
  ASSERT_EQ(::send(sv_[0], "abc", 3, 0), 3);
  EXPECT_EQ(recvMessage(sv_[1], msg), EPROTO);
  // Bad magic.
  wire::Header h;
  h.magic = 0x12345678;
  ASSERT_EQ(::send(sv_[0], &h, sizeof(h), 0), static_cast<ssize_t>(sizeof(h)));
  EXPECT_EQ(recvMessage(sv_[1], msg), EPROTO);
  // payload_size lying about the datagram.
  h = wire::Header{};
  h.payload_size = 100;
  ASSERT_EQ(::send(sv_[0], &h, sizeof(h), 0), static_cast<ssize_t>(sizeof(h)));
  EXPECT_EQ(recvMessage(sv_[1], msg), EPROTO);
  // Non-zero reserved field.
  h = wire::Header{};
  h.reserved = 1;
  ASSERT_EQ(::send(sv_[0], &h, sizeof(h), 0), static_cast<ssize_t>(sizeof(h)));
  EXPECT_EQ(recvMessage(sv_[1], msg), EPROTO);
}

TEST_F(SeqpacketTest, OversizedMessagesAreRefusedAndEofIsReported) {
  std::vector<uint8_t> big(wire::kMaxMessage);
  EXPECT_EQ(sendMessage(sv_[0], wire::Op::kReply, 0, big), EMSGSIZE);
  ::shutdown(sv_[0], SHUT_WR);
  Message msg;
  EXPECT_EQ(recvMessage(sv_[1], msg), ECONNRESET);
}

TEST(SafeMemoryTest, ReportsFaultsInsteadOfCrashing) {
  uint64_t value = 0x1122334455667788;
  uint64_t copy = 0;
  EXPECT_TRUE(safeRead(reinterpret_cast<uint64_t>(&value), &copy, sizeof(copy)));
  EXPECT_EQ(copy, value);
  EXPECT_FALSE(safeRead(0x10, &copy, sizeof(copy)));
  EXPECT_FALSE(safeRead(~uint64_t{0} - 2, &copy, sizeof(copy)));  // wraps
  EXPECT_TRUE(safeWrite(reinterpret_cast<uint64_t>(&copy), &value, sizeof(value)));
  EXPECT_FALSE(safeWrite(0x10, &value, sizeof(value)));
  void* ro = ::mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(ro, MAP_FAILED);
  EXPECT_TRUE(safeRead(reinterpret_cast<uint64_t>(ro), &copy, sizeof(copy)));
  EXPECT_FALSE(safeWrite(reinterpret_cast<uint64_t>(ro), &value, sizeof(value)));
  ::munmap(ro, 4096);
}

// Two ranges in one process_vm_writev: which one faulted decides the ioctl's errno (read stream
// or bwr), so the result must name it, and a good first range must be written either way.
TEST(SafeMemoryTest, TwoWritesNameTheRangeThatFaulted) {
  const uint64_t a = 0xaaaaaaaaaaaaaaaa;
  const uint64_t b = 0xbbbbbbbbbbbbbbbb;
  uint64_t first = 0;
  uint64_t second = 0;
  const auto at = [](uint64_t& v) { return reinterpret_cast<uint64_t>(&v); };
  EXPECT_EQ(safeWrite2(at(first), &a, sizeof(a), at(second), &b, sizeof(b)), 0);
  EXPECT_EQ(first, a);
  EXPECT_EQ(second, b);
  void* ro = ::mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(ro, MAP_FAILED);
  const auto bad = reinterpret_cast<uint64_t>(ro);
  first = 0;
  EXPECT_EQ(safeWrite2(at(first), &a, sizeof(a), bad, &b, sizeof(b)), 2);
  EXPECT_EQ(first, a);
  second = 0;
  EXPECT_EQ(safeWrite2(bad, &a, sizeof(a), at(second), &b, sizeof(b)), 1);
  EXPECT_EQ(second, 0u);  // not attempted after the first range faulted
  ::munmap(ro, 4096);
}

TEST(BinderClientTest, NoDaemonMeansNoDevice) {
  ::setenv("NETBINDER_DIR", "/nonexistent-netbinder-dir", 1);
  EXPECT_EQ(nb_binder_open("/dev/binder", O_RDWR), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(nb_binder_open("binder", O_RDWR), -1);
  EXPECT_FALSE(nb_binder_is_binder_fd(0));
  EXPECT_FALSE(nb_binder_is_binder_fd(-1));
  EXPECT_FALSE(nb_binder_is_binder_fd(1 << 20));
  EXPECT_EQ(nb_binder_ioctl(0, 0, nullptr), -1);
  EXPECT_EQ(errno, EBADF);
  EXPECT_EQ(nb_binder_close(12345), -1);
  EXPECT_EQ(errno, EBADF);
}

}  // namespace
}  // namespace nb::client
