#include "codec/walk_error.h"

#include <cerrno>

namespace nb::codec {

const char* walkErrorName(WalkError error) {
  switch (error) {
    case WalkError::kOffsetsSizeUnaligned:
      return "offsets_size_unaligned";
    case WalkError::kBuffersSizeUnaligned:
      return "buffers_size_unaligned";
    case WalkError::kSizeOverflow:
      return "size_overflow";
    case WalkError::kOffsetBeyondData:
      return "offset_beyond_data";
    case WalkError::kOffsetOverlaps:
      return "offset_overlaps";
    case WalkError::kOffsetUnaligned:
      return "offset_unaligned";
    case WalkError::kObjectTruncated:
      return "object_truncated";
    case WalkError::kUnknownType:
      return "unknown_type";
    case WalkError::kPtrTooLarge:
      return "ptr_too_large";
    case WalkError::kParentInvalid:
      return "parent_invalid";
    case WalkError::kParentNotPtr:
      return "parent_not_ptr";
    case WalkError::kFixupOutOfOrder:
      return "fixup_out_of_order";
    case WalkError::kFixupOutOfBounds:
      return "fixup_out_of_bounds";
    case WalkError::kFdaCountOverflow:
      return "fda_count_overflow";
    case WalkError::kFdaOutOfBounds:
      return "fda_out_of_bounds";
    case WalkError::kFdaUnaligned:
      return "fda_unaligned";
  }
  return "unknown_walk_error";
}

int walkErrorErrno(WalkError error) {
  switch (error) {
    // binder_transaction(): the raw-data copy up to the next object fails with EFAULT when the
    // gap is non-zero and runs backwards (overlap, duplicate, decreasing offset) or past
    // data_size ("binder: fix UAF caused by offsets overwrite"). §17.8.
    case WalkError::kOffsetBeyondData:
    case WalkError::kOffsetOverlaps:
      return EFAULT;
    // Every other rule ends in `return_error_param = -EINVAL`, including binder_get_object()
    // failures (offset == data_size, misaligned, truncated, unknown type). §17.8.
    case WalkError::kOffsetsSizeUnaligned:
    case WalkError::kBuffersSizeUnaligned:
    case WalkError::kSizeOverflow:
    case WalkError::kOffsetUnaligned:
    case WalkError::kObjectTruncated:
    case WalkError::kUnknownType:
    case WalkError::kPtrTooLarge:
    case WalkError::kParentInvalid:
    case WalkError::kParentNotPtr:
    case WalkError::kFixupOutOfOrder:
    case WalkError::kFixupOutOfBounds:
    case WalkError::kFdaCountOverflow:
    case WalkError::kFdaOutOfBounds:
    case WalkError::kFdaUnaligned:
      return EINVAL;
  }
  return EINVAL;
}

}  // namespace nb::codec
