// The status a FrameSink's onClosed receives: an absl::Status whose payload names the fatal Error
// code and who sent it, read back with closeReasonOf() (link.h).
#pragma once

#include "absl/strings/string_view.h"
#include "gateway/transport/link.h"

namespace nb::gateway::detail {

// `code` UNSPECIFIED: the stream ended without a fatal Error.
absl::Status makeCloseStatus(netbinder::v1::ErrorCode code, absl::string_view message,
                             bool by_peer);

}  // namespace nb::gateway::detail
