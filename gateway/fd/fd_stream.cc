// FdStream: see fd_stream.h and docs/protocol.md §8.2.
//
// One I/O thread per stream polls the non-blocking local fd and a wake-up eventfd. Everything
// another thread can touch lives in Core behind `mu`; the thread never holds `mu` across poll(),
// read(), write() or a callback (send, on_finished).
//
// Accounting, peer → local (INVARIANT while the peer's direction is open):
//   granted_unused + buffered + grant_pending == window_to_local
// so the bytes queued towards the local fd never exceed the window, whatever the transfer size.
// Local → peer: we read at most `credit_to_peer` bytes, and stop polling POLLIN at 0.
#include "gateway/fd/fd_stream.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace nb::gateway {
namespace {

using netbinder::v1::FdStreamChunk;

// How the I/O loop ended.
enum class Ending : uint8_t {
  kDone,        // both directions reached eof, the local write side drained and closed
  kAborted,     // close()
  kPeerReset,   // a reset from the peer
  kLocalError,  // read/write/poll error on the local fd: we send a reset
  kPeerGone,    // send() returned false: nothing more is sent
};

struct End {
  Ending ending;
  int error = 0;  // kLocalError: the errno
};

// The state shared by the FdStream and its I/O thread. The thread holds a shared_ptr so that the
// FdStream may be destroyed from its own callbacks (the thread is then detached and releases the
// last reference when it returns).
struct Core {
  FdStreamOptions options;  // immutable after start
  bool is_socket = false;   // immutable after start
  UniqueFd wake;            // eventfd; immutable after start

  mutable std::mutex mu;
  // ---- guarded by mu ----
  // The local fd number. INVARIANT: only the I/O thread closes it (and then sets -1). close() and a
  // peer reset may *replace* the open file it refers to by /dev/null (dup3), which closes the
  // stream's end at once for the local process, but the number itself stays allocated, so the
  // I/O thread, which uses the number outside `mu`, never reads or writes a reused number.
  int fd = -1;
  bool abort_requested = false;  // close() was called
  bool abort_notify_peer = false;
  bool peer_reset = false;
  bool ended_abnormally = false;  // the loop ended other than kDone; later chunks are ignored
  bool finished = false;
  // Local → peer.
  bool to_peer_eof = false;     // eof sent (or the direction does not exist)
  uint64_t credit_to_peer = 0;  // bytes we may still send
  // Peer → local.
  bool from_peer_eof = false;  // eof received (or the direction does not exist)
  bool write_shut = false;     // local write side closed after the peer's eof (or no direction)
  // INVARIANT: only the I/O thread removes elements (std::deque::push_back keeps references to
  // the others valid, so the thread writes the front element outside `mu`).
  std::deque<std::string> to_local;
  size_t front_offset = 0;      // bytes of to_local.front() already written
  uint64_t buffered = 0;        // bytes in to_local not yet written
  uint64_t granted_unused = 0;  // credit granted to the peer and not yet used by its data
  uint64_t grant_pending = 0;   // bytes written to the local fd and not yet granted back

  void wakeUp() const {
    const uint64_t one = 1;
    // EAGAIN only when the counter is saturated, and then the thread is awake anyway.
    [[maybe_unused]] ssize_t n = ::write(wake.get(), &one, sizeof one);
  }

  // Makes the local process see EOF/EPIPE now, even while the I/O thread is busy (blocked in
  // send()): shutdown for a socket, and the fd number re-pointed at /dev/null.
  void detachFdLocked() {
    if (fd < 0) {
      return;
    }
    if (is_socket) {
      ::shutdown(fd, SHUT_RDWR);
    }
    const int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd >= 0) {
      ::dup3(null_fd, fd, O_CLOEXEC);
      ::close(null_fd);
    }
    // Else (EMFILE...) the I/O thread closes the fd as soon as it runs.
  }

  std::optional<End> abnormalEndLocked() const {
    if (peer_reset) {
      return End{Ending::kPeerReset};
    }
    if (abort_requested) {
      return End{Ending::kAborted};
    }
    return std::nullopt;
  }

  uint64_t grantThreshold() const {
    return std::max<uint64_t>(
        1, std::min<uint64_t>(options.max_chunk_bytes / 2, options.window_to_local / 2));
  }

  // Takes the credit to grant back now (batched: half a chunk, or the queue drained).
  uint64_t takeGrantLocked(bool force) {
    if (from_peer_eof || grant_pending == 0) {
      return 0;
    }
    if (!force && grant_pending < grantThreshold() && buffered != 0) {
      return 0;
    }
    const uint64_t grant = grant_pending;
    grant_pending = 0;
    granted_unused += grant;
    return grant;
  }

  bool send(FdStreamChunk chunk) {
    chunk.set_stream_id(options.stream_id);
    return options.send(std::move(chunk));
  }

  absl::Status onChunk(const FdStreamChunk& chunk);
  void run();
  End loop();
  std::optional<End> writeSome(int fd_num);
  std::optional<End> readSome(int fd_num);
  void finish(End end);
};

}  // namespace

absl::Status Core::onChunk(const FdStreamChunk& chunk) {
  // Copied before taking the lock (nothing is allocated under `mu` on this path but the deque's
  // own block).
  std::string data = chunk.data();
  bool wake_thread = false;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (ended_abnormally || abort_requested || peer_reset) {
      return absl::OkStatus();  // §8.2: chunks for a reset stream still in flight are ignored
    }
    if (chunk.reset()) {
      peer_reset = true;
      detachFdLocked();
      wake_thread = true;
    } else {
      if (!data.empty()) {
        if (options.direction == StreamDirection::kLocalToPeer) {
          return absl::InvalidArgumentError(absl::StrCat(
              "fd stream ", options.stream_id, ": data for a direction the stream does not have"));
        }
        if (from_peer_eof) {
          return absl::InvalidArgumentError(absl::StrCat("fd stream ", options.stream_id, ": ",
                                                         data.size(),
                                                         " data bytes after the peer's eof"));
        }
        if (data.size() > granted_unused) {
          return absl::InvalidArgumentError(
              absl::StrCat("fd stream ", options.stream_id, ": window overrun (", data.size(),
                           " data bytes, ", granted_unused, " bytes of credit granted)"));
        }
      }
      if (chunk.credit() > std::numeric_limits<uint64_t>::max() - credit_to_peer) {
        return absl::InvalidArgumentError(
            absl::StrCat("fd stream ", options.stream_id, ": credit overflow"));
      }
      if (finished) {
        return absl::OkStatus();  // both eofs seen: nothing left to do (data was rejected above)
      }
      if (chunk.credit() > 0) {
        wake_thread = credit_to_peer == 0 && !to_peer_eof;
        credit_to_peer += chunk.credit();
      }
      if (!data.empty()) {
        granted_unused -= data.size();
        buffered += data.size();
        to_local.push_back(std::move(data));
        wake_thread = true;
      }
      if (chunk.eof() && !from_peer_eof) {
        from_peer_eof = true;
        wake_thread = true;
      }
    }
  }
  if (wake_thread) {
    wakeUp();
  }
  return absl::OkStatus();
}

void Core::run() {
  // A write to a pipe whose reader is gone raises SIGPIPE at the writing thread: keep it pending
  // (blocked) here and consume it, whatever the process's disposition.
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr);
  finish(loop());
}

End Core::loop() {
  for (;;) {
    short events = 0;
    bool poll_fd = false;
    int fd_num = -1;
    bool want_read = false;
    bool want_write = false;
    uint64_t grant = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (auto end = abnormalEndLocked()) {
        return *end;
      }
      if (from_peer_eof && buffered == 0 && !write_shut) {
        // The peer's eof, everything before it written: close the local write side.
        write_shut = true;
        if (is_socket) {
          ::shutdown(fd, SHUT_WR);
        } else {
          ::close(fd);
          fd = -1;
        }
      }
      if (to_peer_eof && from_peer_eof && write_shut) {
        return End{Ending::kDone};
      }
      grant = takeGrantLocked(/*force=*/false);
      want_read = !to_peer_eof && credit_to_peer > 0;
      want_write = buffered > 0;
      events = static_cast<short>((want_read ? POLLIN : 0) | (want_write ? POLLOUT : 0));
      // An idle pipe write end is polled too: POLLERR says its reader is gone (→ reset, so that
      // the remote writer sees EPIPE). Not a socket or a read end, whose POLLHUP would spin.
      poll_fd = fd >= 0 && (events != 0 || (!is_socket && !write_shut));
      fd_num = fd;
    }
    if (grant > 0) {
      FdStreamChunk chunk;
      chunk.set_credit(grant);
      if (!send(std::move(chunk))) {
        return End{Ending::kPeerGone};
      }
    }

    pollfd fds[2] = {{wake.get(), POLLIN, 0}, {poll_fd ? fd_num : -1, events, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return End{Ending::kLocalError, errno};
    }
    if (fds[0].revents != 0) {
      uint64_t count = 0;
      [[maybe_unused]] ssize_t n = ::read(wake.get(), &count, sizeof count);
    }
    const short revents = poll_fd ? fds[1].revents : 0;
    if (revents == 0) {
      continue;
    }
    if (revents & POLLNVAL) {
      return End{Ending::kLocalError, EBADF};
    }
    bool acted = false;
    if (want_write && (revents & (POLLOUT | POLLERR | POLLHUP))) {
      acted = true;
      if (auto end = writeSome(fd_num)) {
        return *end;
      }
    }
    if (want_read && (revents & (POLLIN | POLLERR | POLLHUP))) {
      acted = true;
      if (auto end = readSome(fd_num)) {
        return *end;
      }
    }
    if (!acted && (revents & (POLLERR | POLLHUP))) {
      // An idle pipe write end whose reader went away.
      std::lock_guard<std::mutex> lock(mu);
      if (auto end = abnormalEndLocked()) {
        return *end;
      }
      return End{Ending::kLocalError, EPIPE};
    }
  }
}

std::optional<End> Core::writeSome(int fd_num) {
  for (;;) {
    const char* bytes = nullptr;
    size_t len = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (auto end = abnormalEndLocked()) {
        return end;
      }
      if (buffered == 0) {
        return std::nullopt;
      }
      const std::string& front = to_local.front();
      bytes = front.data() + front_offset;
      len = front.size() - front_offset;
    }
    const ssize_t n = is_socket ? ::send(fd_num, bytes, len, MSG_NOSIGNAL | MSG_DONTWAIT)
                                : ::write(fd_num, bytes, len);
    if (n < 0) {
      const int error = errno;
      if (error == EINTR) {
        continue;
      }
      if (error == EAGAIN || error == EWOULDBLOCK) {
        return std::nullopt;
      }
      if (error == EPIPE && !is_socket) {
        const timespec zero{};
        sigset_t pipe_set;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        ::sigtimedwait(&pipe_set, nullptr, &zero);  // consume our pending SIGPIPE
      }
      return End{Ending::kLocalError, error};
    }
    std::string written;  // destroyed outside the lock
    {
      std::lock_guard<std::mutex> lock(mu);
      front_offset += static_cast<size_t>(n);
      buffered -= static_cast<uint64_t>(n);
      grant_pending += static_cast<uint64_t>(n);
      if (front_offset == to_local.front().size()) {
        written = std::move(to_local.front());
        to_local.pop_front();
        front_offset = 0;
      }
    }
  }
}

std::optional<End> Core::readSome(int fd_num) {
  size_t want = 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto end = abnormalEndLocked()) {
      return end;
    }
    want = static_cast<size_t>(std::min<uint64_t>(options.max_chunk_bytes, credit_to_peer));
  }
  if (want == 0) {
    return std::nullopt;
  }
  std::string data;
  data.resize(want);
  const ssize_t n = is_socket ? ::recv(fd_num, data.data(), want, MSG_DONTWAIT)
                              : ::read(fd_num, data.data(), want);
  if (n < 0) {
    const int error = errno;
    if (error == EINTR || error == EAGAIN || error == EWOULDBLOCK) {
      return std::nullopt;
    }
    return End{Ending::kLocalError, error};
  }
  FdStreamChunk chunk;
  {
    std::lock_guard<std::mutex> lock(mu);
    // After close() re-pointed the fd at /dev/null, a 0 is not the local writer's eof.
    if (auto end = abnormalEndLocked()) {
      return end;
    }
    if (n == 0) {
      to_peer_eof = true;
      chunk.set_eof(true);
    } else {
      credit_to_peer -= static_cast<uint64_t>(n);
    }
    chunk.set_credit(takeGrantLocked(/*force=*/true));  // piggybacked
  }
  if (n > 0) {
    if (static_cast<size_t>(n) < want / 2) {
      // Credit bounds data bytes, not capacity: a short read must not keep a whole chunk's
      // allocation alive in the send queue.
      chunk.set_data(data.data(), static_cast<size_t>(n));
    } else {
      data.resize(static_cast<size_t>(n));
      chunk.set_data(std::move(data));
    }
  }
  if (!send(std::move(chunk))) {
    return End{Ending::kPeerGone};
  }
  return std::nullopt;
}

void Core::finish(End end) {
  bool send_reset = false;
  std::deque<std::string> dropped;  // destroyed outside the lock
  {
    std::lock_guard<std::mutex> lock(mu);
    switch (end.ending) {
      case Ending::kDone:
        break;
      case Ending::kAborted:
        send_reset = abort_notify_peer;
        break;
      case Ending::kLocalError:
        send_reset = true;
        break;
      case Ending::kPeerReset:
      case Ending::kPeerGone:
        break;
    }
    if (end.ending != Ending::kDone) {
      ended_abnormally = true;
      if (fd >= 0 && is_socket) {
        ::shutdown(fd, SHUT_RDWR);  // the local process sees EOF/EPIPE even if it holds a dup
      }
    }
    if (fd >= 0) {
      ::close(fd);
      fd = -1;
    }
    dropped.swap(to_local);
    buffered = 0;
    front_offset = 0;
    finished = true;
  }
  if (end.ending != Ending::kDone) {
    spdlog::debug("fd stream {}: ended abnormally (ending {}, errno {}){}", options.stream_id,
                  static_cast<int>(end.ending), end.error,
                  send_reset ? ", resetting the peer" : "");
  }
  if (send_reset) {
    FdStreamChunk chunk;
    chunk.set_reset(true);
    chunk.set_reset_errno(end.error);
    send(std::move(chunk));
  }
  if (options.on_finished) {
    options.on_finished(options.stream_id);
  }
}

struct FdStream::Impl {
  std::shared_ptr<Core> core;
  std::thread thread;
};

absl::StatusOr<std::unique_ptr<FdStream>> FdStream::start(UniqueFd local, FdStreamOptions options) {
  if (!local.valid()) {
    return absl::InvalidArgumentError("fd stream: no local fd");
  }
  if (!options.send) {
    return absl::InvalidArgumentError("fd stream: no send function");
  }
  if (options.max_chunk_bytes == 0 || options.window_to_local == 0 || options.window_to_peer == 0) {
    return absl::InvalidArgumentError("fd stream: windows and max_chunk_bytes must be non-zero");
  }
  struct stat st {};
  if (::fstat(local.get(), &st) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("fd stream: fstat: ", std::generic_category().message(errno)));
  }
  const bool is_socket = S_ISSOCK(st.st_mode);
  if (options.direction == StreamDirection::kBoth && !is_socket) {
    return absl::InvalidArgumentError("fd stream: a two-way stream needs a socket");
  }
  // A socket's open file description may be shared with the local process that passed it:
  // sockets are used with MSG_DONTWAIT instead of switching the description to O_NONBLOCK.
  // Pipes are private descriptions here (a fresh pipe, or reopened by the session).
  const int flags = ::fcntl(local.get(), F_GETFL);
  if (flags < 0 || (!is_socket && ::fcntl(local.get(), F_SETFL, flags | O_NONBLOCK) != 0)) {
    return absl::InternalError(
        absl::StrCat("fd stream: O_NONBLOCK: ", std::generic_category().message(errno)));
  }
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("fd stream: eventfd: ", std::generic_category().message(errno)));
  }

  auto core = std::make_shared<Core>();
  core->is_socket = is_socket;
  core->wake = std::move(wake);
  core->fd = local.release();
  core->to_peer_eof = options.direction == StreamDirection::kPeerToLocal;
  core->from_peer_eof = options.direction == StreamDirection::kLocalToPeer;
  core->write_shut = options.direction == StreamDirection::kLocalToPeer;
  core->credit_to_peer = options.window_to_peer;
  core->granted_unused = options.window_to_local;
  core->options = std::move(options);

  std::unique_ptr<FdStream> stream(new FdStream());
  stream->impl_ = std::make_unique<Impl>();
  stream->impl_->core = core;
  try {
    stream->impl_->thread = std::thread([core] { core->run(); });
  } catch (const std::system_error& e) {
    // `core` still owns the fd; it is closed with the last reference.
    ::close(core->fd);
    core->fd = -1;
    return absl::ResourceExhaustedError(absl::StrCat("fd stream: thread: ", e.what()));
  }
  return stream;
}

FdStream::~FdStream() {
  if (!impl_) {
    return;
  }
  close(/*notify_peer=*/false);
  if (impl_->thread.joinable()) {
    if (impl_->thread.get_id() == std::this_thread::get_id()) {
      impl_->thread.detach();  // destroyed from a callback: the thread ends right after it
    } else {
      impl_->thread.join();
    }
  }
}

absl::Status FdStream::onChunk(const netbinder::v1::FdStreamChunk& chunk) {
  return impl_->core->onChunk(chunk);
}

void FdStream::close(bool notify_peer) {
  Core& core = *impl_->core;
  {
    std::lock_guard<std::mutex> lock(core.mu);
    if (core.finished || core.abort_requested || core.peer_reset) {
      return;
    }
    core.abort_requested = true;
    core.abort_notify_peer = notify_peer;
    core.detachFdLocked();
  }
  core.wakeUp();
}

bool FdStream::finished() const {
  std::lock_guard<std::mutex> lock(impl_->core->mu);
  return impl_->core->finished;
}

uint64_t FdStream::id() const { return impl_->core->options.stream_id; }

uint64_t FdStream::bufferedToLocal() const {
  std::lock_guard<std::mutex> lock(impl_->core->mu);
  return impl_->core->buffered;
}

}  // namespace nb::gateway
