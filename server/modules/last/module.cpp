// Placeholder: the last module is being written.
#include "parley/server/module.h"

namespace parley::server::modules {

ModuleInfo lastModule() {
    struct Empty final : Module {
        void start(ModuleContext&) override {}
    };
    return {"last", "(in progress)", {}, [] { return std::unique_ptr<Module>(std::make_unique<Empty>()); }};
}

}  // namespace parley::server::modules
