#include "local_driver/client/inline_sender.h"

#include <fcntl.h>
#include <linux/android/binder.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "local_driver/client/safe_memory.h"
#include "local_driver/client/seqpacket.h"
#include "local_driver/client/wire.h"

namespace nb::client {
namespace {

struct Range {
  uint64_t addr;
  uint64_t len;
};

// Collects what one BC_TRANSACTION/BC_REPLY(_SG) makes the daemon read. Unreadable client
// memory is skipped: the daemon's read then fails as the kernel's copy_from_user would.
void collectTransaction(const binder_transaction_data& tr, std::vector<Range>& ranges,
                        std::vector<int>& fds) {
  ranges.push_back({tr.data.ptr.buffer, tr.data_size});
  ranges.push_back({tr.data.ptr.offsets, tr.offsets_size});
  const size_t count = std::min<uint64_t>(tr.offsets_size / sizeof(binder_size_t), 4096);
  if (count == 0 || tr.data_size > wire::kMaxInlineBytes) {
    return;
  }
  std::vector<uint8_t> data(tr.data_size);
  std::vector<binder_size_t> offsets(count);
  if (!safeRead(tr.data.ptr.buffer, data.data(), data.size()) ||
      !safeRead(tr.data.ptr.offsets, offsets.data(), count * sizeof(binder_size_t))) {
    return;
  }
  auto object = [&](binder_size_t off, void* out, size_t size) {
    if (off > data.size() || size > data.size() - off) {
      return false;
    }
    // SAFETY: [off, off+size) is inside `data`, checked above.
    std::memcpy(out, data.data() + off, size);
    return true;
  };
  for (size_t i = 0; i < count; ++i) {
    binder_object_header hdr{};
    if (!object(offsets[i], &hdr, sizeof(hdr))) {
      continue;
    }
    if (hdr.type == BINDER_TYPE_FD) {
      binder_fd_object fd_obj{};
      if (object(offsets[i], &fd_obj, sizeof(fd_obj))) {
        fds.push_back(static_cast<int>(fd_obj.fd));
      }
    } else if (hdr.type == BINDER_TYPE_PTR) {
      binder_buffer_object buf{};
      if (object(offsets[i], &buf, sizeof(buf))) {
        ranges.push_back({buf.buffer, buf.length});
      }
    } else if (hdr.type == BINDER_TYPE_FDA) {
      binder_fd_array_object fda{};
      binder_buffer_object parent{};
      if (!object(offsets[i], &fda, sizeof(fda)) || fda.parent >= count ||
          !object(offsets[fda.parent], &parent, sizeof(parent)) ||
          parent.hdr.type != BINDER_TYPE_PTR || fda.num_fds > wire::kMaxInlineFds) {
        continue;
      }
      std::vector<uint32_t> numbers(fda.num_fds);
      if (safeRead(parent.buffer + fda.parent_offset, numbers.data(),
                   numbers.size() * sizeof(uint32_t))) {
        fds.insert(fds.end(), numbers.begin(), numbers.end());
      }
    }
  }
}

void collect(std::span<const uint8_t> write, std::vector<Range>& ranges, std::vector<int>& fds) {
  size_t pos = 0;
  while (pos + sizeof(uint32_t) <= write.size()) {
    uint32_t cmd;
    std::memcpy(&cmd, write.data() + pos, sizeof(cmd));
    pos += sizeof(cmd);
    const size_t size = _IOC_SIZE(cmd);
    if (size > write.size() - pos) {
      return;
    }
    if (cmd == BC_TRANSACTION || cmd == BC_REPLY || cmd == BC_TRANSACTION_SG ||
        cmd == BC_REPLY_SG) {
      binder_transaction_data tr;
      std::memcpy(&tr, write.data() + pos, sizeof(tr));
      collectTransaction(tr, ranges, fds);
    }
    pos += size;
  }
}

int sendRange(int sock, const Range& range, uint64_t* budget) {
  constexpr size_t kChunk = wire::kMaxMessage - sizeof(wire::Header) - sizeof(wire::InlineMemory);
  std::vector<uint8_t> bytes;
  for (uint64_t off = 0; off < range.len;) {
    const size_t n = std::min<uint64_t>(kChunk, range.len - off);
    if (n > *budget) {
      return 0;
    }
    bytes.resize(n);
    if (!safeRead(range.addr + off, bytes.data(), n)) {
      return 0;  // the daemon will see a hole and fail the read with EFAULT
    }
    wire::InlineMemory head;
    head.addr = range.addr + off;
    head.length = static_cast<uint32_t>(n);
    const std::span<const uint8_t> parts[2] = {bytesOf(head), bytes};
    if (int err = sendMessage(sock, wire::Op::kInlineMemory, 0, parts); err != 0) {
      return err;
    }
    *budget -= n;
    off += n;
  }
  return 0;
}

}  // namespace

int sendInline(int sock, uint32_t mode, std::span<const uint8_t> write, uint64_t write_addr,
               bool send_write) {
  std::vector<Range> ranges;
  std::vector<int> fds;
  if (send_write) {
    ranges.push_back({write_addr, write.size()});
  }
  // The kernel reads a command that starts before write_size in full, even past it (§17,
  // conformance rw_edges): send the bytes just past the stream, as far as they are readable.
  constexpr uint64_t kSlack = sizeof(uint32_t) + sizeof(binder_transaction_data_sg);
  const uint64_t end = write_addr + write.size();
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t to_page_end = (end / page + 1) * page - end;  // 1..page
  uint8_t probe[kSlack];
  for (uint64_t len : {kSlack, std::min(kSlack, to_page_end)}) {
    if (safeRead(end, probe, len)) {
      ranges.push_back({end, len});
      break;
    }
  }
  collect(write, ranges, fds);
  if ((mode & wire::kModeInlineMemory) != 0) {
    uint64_t budget = wire::kMaxInlineBytes;
    size_t sent = 0;
    for (const Range& r : ranges) {
      if (r.len == 0 || sent++ >= wire::kMaxInlineRanges / 2) {
        continue;
      }
      if (int err = sendRange(sock, r, &budget); err != 0) {
        return err;
      }
    }
  }
  if ((mode & wire::kModeInlineFds) != 0 && !fds.empty()) {
    // Only open, distinct files can be sent; the daemon reports the others as EBADF.
    std::sort(fds.begin(), fds.end());
    fds.erase(std::unique(fds.begin(), fds.end()), fds.end());
    std::erase_if(fds, [](int fd) { return fd < 0 || ::syscall(SYS_fcntl, fd, F_GETFD) < 0; });
    for (size_t i = 0; i < fds.size() && i < wire::kMaxInlineFds; i += wire::kMaxFdsPerMessage) {
      const size_t n = std::min(wire::kMaxFdsPerMessage, fds.size() - i);
      std::vector<int32_t> numbers(fds.begin() + i, fds.begin() + i + n);
      if (int err = sendMessage(
              sock, wire::Op::kInlineFds, 0,
              {reinterpret_cast<const uint8_t*>(numbers.data()), numbers.size() * sizeof(int32_t)},
              {fds.data() + i, n});
          err != 0) {
        return err;
      }
    }
  }
  return 0;
}

}  // namespace nb::client
