// Placeholder: the private module is being written.
#include "parley/server/module.h"

namespace parley::server::modules {

ModuleInfo privateModule() {
    struct Empty final : Module {
        void start(ModuleContext&) override {}
    };
    return {"private", "(in progress)", {}, [] { return std::unique_ptr<Module>(std::make_unique<Empty>()); }};
}

}  // namespace parley::server::modules
