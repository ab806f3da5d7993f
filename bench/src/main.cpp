// parley-bench: a load generator for XMPP servers (bench/README.md).
#include <iostream>

#include "options.h"
#include "scenarios.h"

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") {
            std::cout << parley::bench::usageText();
            return 0;
        }
    }
    auto options = parley::bench::parseOptions(argc, argv);
    if (!options) {
        std::cerr << "parley-bench: " << options.error().message << "\n\n" << parley::bench::usageText();
        return 2;
    }
    return parley::bench::runScenario(*options);
}
