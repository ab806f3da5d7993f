// Placeholder: the blocking module is being written.
#include "parley/server/module.h"

namespace parley::server::modules {

ModuleInfo blockingModule() {
    struct Empty final : Module {
        void start(ModuleContext&) override {}
    };
    return {"blocking", "(in progress)", {}, [] { return std::unique_ptr<Module>(std::make_unique<Empty>()); }};
}

}  // namespace parley::server::modules
