#pragma once
// The scenarios of parley-bench (bench/README.md). Each runs to completion, prints its one line of
// JSON on stdout and returns the process exit code (0: completed with no error).
#include "options.h"

namespace parley::bench {

int runScenario(const Options& options);

}  // namespace parley::bench
