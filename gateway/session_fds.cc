// Session: file descriptors across the link (docs/protocol.md §8, docs/gateway.md "File
// descriptors"). Sending: each fd of a parcel becomes an FdPayload (a file's contents, or a
// stream standing in for a pipe or socket) sent just before the parcel's frame. Receiving: each
// FdPayload is materialised at once (a memfd, or a new pipe/socketpair whose other end an
// FdStream drives) and waits, in a bundle keyed by the parcel that follows it, for that parcel's
// conversion to hand the fds to the local driver.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "gateway/session.h"
#include "spdlog/spdlog.h"

namespace nb::gateway {

namespace v1 = netbinder::v1;
using netbinder::v1::Frame;

namespace {
constexpr uint64_t kDefaultMaxFdPayloadBytes = 64ull << 20;
constexpr uint64_t kDefaultMaxFdStreams = 256;
constexpr uint64_t kDefaultStreamWindow = 256 * 1024;
// File contents up to this size travel inline in their FdPayload; bigger ones as a content
// stream of chunks this size (frames stay well under the 4 MiB default max_frame_bytes).
constexpr size_t kInlineContentsMax = 1 << 20;
// Our own handle on a pipe or socket the local process passed. A pipe is reopened through
// /proc/self/fd: a description of our own, which the stream may make non-blocking without the
// process noticing (a dup would share the process's description and its O_NONBLOCK flag). A
// socket cannot be reopened; FdStream uses it with MSG_DONTWAIT instead.
absl::StatusOr<UniqueFd> streamEndOf(int fd, FdClass cls) {
  if (cls == FdClass::kPipeRead || cls == FdClass::kPipeWrite) {
    const int mode = cls == FdClass::kPipeRead ? O_RDONLY : O_WRONLY;
    const std::string path = absl::StrCat("/proc/self/fd/", fd);
    UniqueFd reopened(::open(path.c_str(), mode | O_NONBLOCK | O_CLOEXEC));
    if (reopened.valid()) {
      return reopened;
    }
    // ENXIO: a write end whose pipe has no reader left; the dup still shows that (EPIPE).
  }
  return dupFd(fd);
}

}  // namespace

size_t Session::openStreamsLocked(bool ours) const {
  // Stream ids are odd when the dialer opened them (docs/protocol.md §4).
  const bool we_dialed = peer().dialed;
  size_t count = 0;
  for (const auto& [id, stream] : streams_) {
    const bool opened_by_dialer = (id % 2) == 1;
    if (opened_by_dialer == (ours ? we_dialed : !we_dialed))
      ++count;
  }
  return count;
}

bool Session::hasCapability(v1::Capability capability) const {
  for (v1::Capability c : peer().capabilities) {
    if (c == capability)
      return true;
  }
  return false;
}

uint64_t Session::ownLimit(uint64_t value, uint64_t fallback) const {
  return value != 0 ? value : fallback;
}

Session::ParcelKey Session::parcelKeyOf(const v1::Transaction& tx) {
  if ((tx.flags() & TF_ONE_WAY) != 0) {
    return ParcelKey{'O', tx.target_export_id(), tx.oneway_seq()};
  }
  return ParcelKey{'T', tx.call_id(), 0};
}

std::shared_ptr<FdBundle> Session::takeReceivedFds(const ParcelKey& key) {
  std::lock_guard lock(mu_);
  auto it = received_fds_.find(key);
  if (it == received_fds_.end()) {
    return nullptr;
  }
  std::shared_ptr<FdBundle> bundle = std::move(it->second);
  received_fds_.erase(it);
  return bundle;
}

// ---- Sending
// ---------------------------------------------------------------------------------------

absl::StatusOr<uint64_t> Session::prepareFd(int fd, OutgoingFds* out) {
  absl::StatusOr<FdInfo> info = classifyFd(fd);
  if (!info.ok()) {
    return info.status();
  }
  const v1::Limits& peer_limits = peer().limits;
  Frame frame;
  v1::FdPayload* payload = frame.mutable_fd_payload();
  switch (info->cls) {
    case FdClass::kRegularFile:
    case FdClass::kMemfd: {
      const v1::Capability needed =
          info->cls == FdClass::kMemfd ? v1::CAPABILITY_FD_MEMFD : v1::CAPABILITY_FD_FILE;
      if (!hasCapability(needed)) {
        return absl::FailedPreconditionError(
            absl::StrCat("the peer does not take fds of this kind (", info->description, ")"));
      }
      absl::StatusOr<v1::FileContents> contents = snapshotFile(
          fd, *info, ownLimit(peer_limits.max_fd_payload_bytes(), kDefaultMaxFdPayloadBytes));
      if (!contents.ok()) {
        spdlog::warn("peer {}: fd {} ({}) not sent: {}", peer().node.gateway_id(), fd,
                     info->description, contents.status().ToString());
        return contents.status();
      }
      if (contents->contents().size() > kInlineContentsMax) {
        // Too big for one frame: the bytes follow the payload as chunks of a content stream,
        // still ahead of the parcel (CAPABILITY_FD_LARGE_FILE, docs/protocol.md §8.1).
        if (!hasCapability(v1::CAPABILITY_FD_LARGE_FILE)) {
          return absl::ResourceExhaustedError(
              absl::StrCat(info->description, " is over ", kInlineContentsMax,
                           " bytes and the peer does not take large files"));
        }
        std::string bytes = std::move(*contents->mutable_contents());
        uint64_t stream_id = 0;
        {
          std::lock_guard lock(mu_);
          stream_id = next_stream_id_;
          next_stream_id_ += 2;
        }
        contents->set_content_stream_id(stream_id);
        *payload->mutable_file() = std::move(*contents);
        uint64_t fd_id = 0;
        {
          std::lock_guard lock(mu_);
          fd_id = next_fd_id_++;
        }
        payload->set_fd_id(fd_id);
        out->payloads.push_back(std::move(frame));
        for (size_t offset = 0; offset < bytes.size(); offset += kInlineContentsMax) {
          Frame chunk;
          v1::FdStreamChunk* c = chunk.mutable_fd_stream_chunk();
          c->set_stream_id(stream_id);
          c->set_data(bytes.substr(offset, kInlineContentsMax));
          c->set_eof(offset + kInlineContentsMax >= bytes.size());
          out->payloads.push_back(std::move(chunk));
        }
        return fd_id;
      }
      *payload->mutable_file() = std::move(*contents);
      break;
    }
    case FdClass::kPipeRead:
    case FdClass::kPipeWrite:
    case FdClass::kStreamSocket: {
      if (!hasCapability(v1::CAPABILITY_FD_STREAM)) {
        return absl::FailedPreconditionError("the peer does not take pipes or sockets");
      }
      absl::StatusOr<UniqueFd> dup = streamEndOf(fd, info->cls);
      if (!dup.ok()) {
        return dup.status();
      }
      OutgoingFds::Stream stream;
      {
        std::lock_guard lock(mu_);
        const uint64_t max_streams = ownLimit(peer_limits.max_fd_streams(), kDefaultMaxFdStreams);
        if (openStreamsLocked(/*ours=*/true) + out->streams.size() >= max_streams) {
          return absl::ResourceExhaustedError(
              absl::StrCat("the peer's limit of ", max_streams, " open fd streams is reached"));
        }
        stream.options.stream_id = next_stream_id_;
        next_stream_id_ += 2;
      }
      v1::FdStreamOpen* open = payload->mutable_stream();
      open->set_stream_id(stream.options.stream_id);
      switch (info->cls) {
        case FdClass::kPipeRead:  // we read it; the peer's process gets a read end
          open->set_kind(v1::STREAM_KIND_PIPE_READ_END);
          stream.options.direction = StreamDirection::kLocalToPeer;
          break;
        case FdClass::kPipeWrite:  // we write it; the peer's process gets a write end
          open->set_kind(v1::STREAM_KIND_PIPE_WRITE_END);
          stream.options.direction = StreamDirection::kPeerToLocal;
          break;
        default:
          open->set_kind(v1::STREAM_KIND_SOCKET);
          stream.options.direction = StreamDirection::kBoth;
          break;
      }
      stream.options.window_to_local =
          ownLimit(ctx_.own_limits.fd_stream_initial_window(), kDefaultStreamWindow);
      stream.options.window_to_peer =
          ownLimit(peer_limits.fd_stream_initial_window(), kDefaultStreamWindow);
      stream.fd = std::move(*dup);
      out->streams.push_back(std::move(stream));
      break;
    }
    case FdClass::kUnsupported:
      spdlog::warn("peer {}: refusing fd {}: a {} cannot cross a gateway", peer().node.gateway_id(),
                   fd, info->description);
      return absl::FailedPreconditionError(
          absl::StrCat("fd ", fd, " is a ", info->description, ", which cannot cross a gateway"));
  }
  uint64_t fd_id = 0;
  {
    std::lock_guard lock(mu_);
    fd_id = next_fd_id_++;
  }
  payload->set_fd_id(fd_id);
  out->payloads.push_back(std::move(frame));
  return fd_id;
}

void Session::startStream(UniqueFd fd, FdStreamOptions options) {
  const uint64_t id = options.stream_id;
  std::weak_ptr<Session> weak = weak_from_this();
  options.send = [weak](v1::FdStreamChunk&& chunk) {
    std::shared_ptr<Session> session = weak.lock();
    if (session == nullptr) {
      return false;
    }
    // Data and eof/reset share the bulk lane (their order matters); a bare credit grant is
    // small and must not wait behind bulk data.
    const bool credit_only = chunk.data().empty() && !chunk.eof() && !chunk.reset();
    Frame frame;
    *frame.mutable_fd_stream_chunk() = std::move(chunk);
    return session->link_->send(std::move(frame), credit_only ? Lane::kControl : Lane::kBulk).ok();
  };
  options.on_finished = [weak](uint64_t stream_id) {
    if (std::shared_ptr<Session> session = weak.lock()) {
      session->streamFinished(stream_id);
    }
  };
  absl::StatusOr<std::unique_ptr<FdStream>> stream = FdStream::start(std::move(fd), options);
  if (!stream.ok()) {
    spdlog::warn("peer {}: fd stream {} not started: {}", peer().node.gateway_id(), id,
                 stream.status().ToString());
    return;
  }
  std::shared_ptr<FdStream> shared = std::move(*stream);
  std::lock_guard lock(mu_);
  seen_stream_ids_.insert(id);
  if (closed_) {
    shared->close(false);
    return;
  }
  if (finished_early_.erase(id) != 0) {
    return;  // it ended before start() returned
  }
  streams_[id] = std::move(shared);
}

void Session::streamFinished(uint64_t stream_id) {
  std::shared_ptr<FdStream> stream;
  {
    std::lock_guard lock(mu_);
    auto it = streams_.find(stream_id);
    if (it == streams_.end()) {
      finished_early_.insert(stream_id);  // startStream has not registered it yet
      return;
    }
    stream = std::move(it->second);
    streams_.erase(it);
  }
  // Called on the stream's own thread: it is destroyed (joined) elsewhere.
  ctx_.workers->submit([stream] {});
}

// ---- Receiving
// -------------------------------------------------------------------------------------

void Session::onFdPayload(const v1::FdPayload& payload) {
  const bool allowed =
      payload.has_file()
          ? hasCapability(payload.file().kind() == v1::FILE_KIND_MEMFD ? v1::CAPABILITY_FD_MEMFD
                                                                       : v1::CAPABILITY_FD_FILE) &&
                (payload.file().source_case() != v1::FileContents::kContentStreamId ||
                 hasCapability(v1::CAPABILITY_FD_LARGE_FILE))
          : hasCapability(v1::CAPABILITY_FD_STREAM);
  if (!allowed) {
    fail(v1::ERROR_CODE_PROTOCOL, "fd payload of a kind that was not negotiated");
    return;
  }
  bool too_many = false;
  {
    std::lock_guard lock(mu_);
    too_many = pending_fds_.size() + assemblies_.size() >=
               ownLimit(ctx_.own_limits.max_parcel_fds(), 1024);
  }
  if (too_many) {
    fail(v1::ERROR_CODE_LIMIT_EXCEEDED, "more fd payloads than max_parcel_fds before a parcel");
    return;
  }
  bool increasing = false;
  {
    std::lock_guard lock(mu_);
    if (closed_) {
      return;
    }
    increasing = payload.fd_id() > last_received_fd_id_;
    if (increasing) {
      last_received_fd_id_ = payload.fd_id();
    }
  }
  if (!increasing) {
    fail(v1::ERROR_CODE_FD_PAYLOAD, absl::StrCat("fd id ", payload.fd_id(), " not increasing"));
    return;
  }
  absl::StatusOr<UniqueFd> local = absl::InternalError("no fd");
  if (payload.has_file() && payload.file().source_case() == v1::FileContents::kContentStreamId) {
    // The contents follow as chunks of a content stream; the fd is made at its eof.
    const uint64_t id = payload.file().content_stream_id();
    const uint64_t max_bytes =
        ownLimit(ctx_.own_limits.max_fd_payload_bytes(), kDefaultMaxFdPayloadBytes);
    std::string error;
    {
      std::lock_guard lock(mu_);
      if (id == 0 || (id % 2 == 1) != !peer().dialed || seen_stream_ids_.count(id) != 0) {
        error = absl::StrCat("content stream id ", id, " is not a new id of the peer");
      } else if (payload.file().size() > max_bytes) {
        error = absl::StrCat("file contents of ", payload.file().size(), " bytes over the limit ",
                             max_bytes);
      } else {
        seen_stream_ids_.insert(id);
        ContentAssembly& assembly = assemblies_[id];
        assembly.fd_id = payload.fd_id();
        assembly.file = payload.file();
        assembly.bytes.reserve(payload.file().size());
      }
    }
    if (!error.empty()) {
      fail(v1::ERROR_CODE_FD_PAYLOAD, error);
    }
    return;
  }
  if (payload.has_file()) {
    local = materializeFile(payload.file(), ownLimit(ctx_.own_limits.max_fd_payload_bytes(),
                                                     kDefaultMaxFdPayloadBytes));
    if (absl::IsInvalidArgument(local.status())) {
      fail(v1::ERROR_CODE_FD_PAYLOAD, std::string(local.status().message()));
      return;
    }
    if (absl::IsResourceExhausted(local.status())) {
      fail(v1::ERROR_CODE_LIMIT_EXCEEDED, std::string(local.status().message()));
      return;
    }
  } else if (payload.has_stream()) {
    const v1::FdStreamOpen& open = payload.stream();
    const uint64_t id = open.stream_id();
    const bool peer_dialed = !peer().dialed;
    std::string error;
    {
      std::lock_guard lock(mu_);
      const uint64_t max_streams = ownLimit(ctx_.own_limits.max_fd_streams(), kDefaultMaxFdStreams);
      if (id == 0 || (id % 2 == 1) != peer_dialed || seen_stream_ids_.count(id) != 0) {
        error = absl::StrCat("stream id ", id, " is not a new id of the peer");
      } else if (openStreamsLocked(/*ours=*/false) >= max_streams) {
        error = absl::StrCat("more than ", max_streams, " open fd streams opened by the peer");
      } else {
        seen_stream_ids_.insert(id);
      }
    }
    if (!error.empty()) {
      fail(v1::ERROR_CODE_FD_STREAM, error);
      return;
    }
    int fds[2] = {-1, -1};
    FdStreamOptions options;
    options.stream_id = id;
    options.window_to_local =
        ownLimit(ctx_.own_limits.fd_stream_initial_window(), kDefaultStreamWindow);
    options.window_to_peer =
        ownLimit(peer().limits.fd_stream_initial_window(), kDefaultStreamWindow);
    UniqueFd ours;
    UniqueFd theirs;
    switch (open.kind()) {
      case v1::STREAM_KIND_PIPE_READ_END:   // the process reads; we write what the peer sends
      case v1::STREAM_KIND_PIPE_WRITE_END:  // the process writes; we read and send
        if (::pipe2(fds, O_CLOEXEC) != 0) {
          local = absl::ResourceExhaustedError(absl::StrCat("pipe2: ", strerror(errno)));
          break;
        }
        if (open.kind() == v1::STREAM_KIND_PIPE_READ_END) {
          theirs.reset(fds[0]);
          ours.reset(fds[1]);
          options.direction = StreamDirection::kPeerToLocal;
        } else {
          theirs.reset(fds[1]);
          ours.reset(fds[0]);
          options.direction = StreamDirection::kLocalToPeer;
        }
        break;
      case v1::STREAM_KIND_SOCKET:
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
          local = absl::ResourceExhaustedError(absl::StrCat("socketpair: ", strerror(errno)));
          break;
        }
        theirs.reset(fds[0]);
        ours.reset(fds[1]);
        options.direction = StreamDirection::kBoth;
        break;
      default:
        fail(v1::ERROR_CODE_FD_PAYLOAD, "unknown stream kind");
        return;
    }
    if (ours.valid()) {
      startStream(std::move(ours), std::move(options));
      local = std::move(theirs);
    }
  } else {
    fail(v1::ERROR_CODE_FD_PAYLOAD, "fd payload without a kind");
    return;
  }
  std::lock_guard lock(mu_);
  if (!closed_) {
    pending_fds_.emplace(payload.fd_id(), std::move(local));
  }
}

std::string Session::addContentChunkLocked(ContentAssembly& assembly,
                                           const v1::FdStreamChunk& chunk) {
  if (chunk.reset() || chunk.credit() != 0) {
    return "a content stream carries only data and eof";
  }
  if (assembly.bytes.size() + chunk.data().size() > assembly.file.size()) {
    return absl::StrCat("content stream ", chunk.stream_id(), " longer than its announced ",
                        assembly.file.size(), " bytes");
  }
  assembly.bytes += chunk.data();
  if (!chunk.eof()) {
    return "";
  }
  if (assembly.bytes.size() != assembly.file.size()) {
    return absl::StrCat("content stream ", chunk.stream_id(), " ended after ",
                        assembly.bytes.size(), " of ", assembly.file.size(), " bytes");
  }
  v1::FileContents contents = std::move(assembly.file);
  contents.set_contents(std::move(assembly.bytes));
  absl::StatusOr<UniqueFd> local = materializeFile(
      contents, ownLimit(ctx_.own_limits.max_fd_payload_bytes(), kDefaultMaxFdPayloadBytes));
  if (absl::IsInvalidArgument(local.status())) {
    return std::string(local.status().message());
  }
  pending_fds_.emplace(assembly.fd_id, std::move(local));
  return "";
}

void Session::onFdStreamChunk(const v1::FdStreamChunk& chunk) {
  std::shared_ptr<FdStream> stream;
  bool content = false;
  std::string content_error;
  {
    std::lock_guard lock(mu_);
    if (closed_) {
      return;
    }
    if (auto assembly = assemblies_.find(chunk.stream_id()); assembly != assemblies_.end()) {
      content = true;
      content_error = addContentChunkLocked(assembly->second, chunk);
      if (chunk.eof() || !content_error.empty()) {
        assemblies_.erase(assembly);
      }
    }
  }
  if (content) {
    if (!content_error.empty()) {
      fail(v1::ERROR_CODE_FD_STREAM, content_error);
    }
    return;
  }
  {
    std::lock_guard lock(mu_);
    if (closed_) {
      return;
    }
    auto it = streams_.find(chunk.stream_id());
    if (it == streams_.end()) {
      if (seen_stream_ids_.count(chunk.stream_id()) != 0) {
        return;  // finished here already (a late chunk, or the peer's side of a reset)
      }
    } else {
      stream = it->second;
    }
  }
  if (stream == nullptr) {
    fail(v1::ERROR_CODE_FD_STREAM, absl::StrCat("chunk for unknown stream ", chunk.stream_id()));
    return;
  }
  if (absl::Status status = stream->onChunk(chunk); !status.ok()) {
    fail(v1::ERROR_CODE_FD_STREAM, std::string(status.message()));
  }
}

}  // namespace nb::gateway
