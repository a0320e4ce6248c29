// WalkError: one value per validation rule of the transaction-buffer walker (object_walker.h).
// Each maps to the errno the kernel driver reports for it (../shared/reference/kernel-binder.md
// §17.8): the error reply is BR_FAILED_REPLY and GET_EXTENDED_ERROR carries -errno.
// Several rules can hold at once; the walker reports the first in the kernel's order (whole-buffer:
// overflow, offsets_size, buffers_size; per object: gap copy, binder_get_object, then the PTR/FDA
// rules as binder_transaction() runs them). Only the errno is observable from the kernel.
#pragma once

#include <cstdint>

namespace nb::codec {

enum class WalkError : uint8_t {
  kOffsetsSizeUnaligned,  // offsets_size % 8 != 0                                  EINVAL
  kBuffersSizeUnaligned,  // buffers_size % 8 != 0                                  EINVAL
  kSizeOverflow,          // data + offsets + buffers sizes overflow                 EINVAL
  kOffsetBeyondData,      // object offset > data_size (the gap copy would overrun)  EFAULT
  kOffsetOverlaps,        // offset before the end of the previous object            EFAULT
  kOffsetUnaligned,       // offset % 4 != 0 (CVE-2024-26926)                        EINVAL
  kObjectTruncated,       // object header (u32 type) or body crosses data_size      EINVAL
  kUnknownType,           // hdr.type is none of the seven                           EINVAL
  kPtrTooLarge,           // PTR length > remaining scatter-gather space             EINVAL
  kParentInvalid,         // parent index >= own index (CVE-2020-0041)               EINVAL
  kParentNotPtr,          // parent is not a PTR object                              EINVAL
  kFixupOutOfOrder,       // fixup not in the last PTR or its ancestors, or below
                          // the previous fixup in it                                EINVAL
  kFixupOutOfBounds,      // PTR fixup: parent.length < 8 or offset > length - 8     EINVAL
  kFdaCountOverflow,      // num_fds * 4 overflows                                   EINVAL
  kFdaOutOfBounds,        // fd array does not fit at parent_offset in the parent    EINVAL
  kFdaUnaligned,          // fd array not 4-aligned in the target or the sender      EINVAL
};

const char* walkErrorName(WalkError error);
// The positive errno the kernel reports for this rule (EINVAL or EFAULT).
int walkErrorErrno(WalkError error);

}  // namespace nb::codec
