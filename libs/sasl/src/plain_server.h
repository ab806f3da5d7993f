#pragma once
#include "parley/sasl/mechanism.h"

#include <memory>

namespace parley::sasl::detail {

// SASL PLAIN (RFC 4616), server side.
std::unique_ptr<ServerMechanism> makePlainServer();

}  // namespace parley::sasl::detail
