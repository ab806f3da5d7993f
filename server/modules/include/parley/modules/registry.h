#pragma once
#include <vector>

#include "parley/server/module.h"

namespace parley::server {

// The modules compiled into this binary, in the order of server/modules/modules.cmake.
const std::vector<ModuleInfo>& builtinModules();

}  // namespace parley::server
