// Module options the module cannot use stop the server at start, with a message that names the module
// and the option (ModuleContext::refuseStart, parley/modules/options.h), instead of running with a
// value nobody wrote.
#include <gtest/gtest.h>

#include "test_server.h"

namespace parley::test {
namespace {

// The error TestServer reports when the server refuses to start with `value` for `key` of `module`;
// "" when it started.
std::string startError(const std::string& module, const std::string& key, const std::string& value) {
    try {
        TestServer server([&](server::ServerConfig& config) {
            for (auto& entry : config.modules) {
                if (entry.name == module)
                    entry.options[key] = value;
            }
        });
    } catch (const std::runtime_error& error) {
        return error.what();
    }
    return "";
}

TEST(ModuleOptions, ABadValueStopsTheServerAndNamesTheOption) {
    struct Case {
        std::string module, key, value, expected;
    };
    const std::vector<Case> cases = {
        {"mam", "max_age", "a year", "[modules.mam] max_age = \"a year\" is not a duration"},
        {"mam", "cleanup_interval", "0", "[modules.mam] cleanup_interval = \"0\" is not a duration of 1"},
        {"mam", "default", "sometimes", "[modules.mam] default = \"sometimes\" is not one of \"always\""},
        {"mam", "max_page_size", "0", "[modules.mam] max_page_size = \"0\" is not a whole number of 1"},
        {"stream_management", "max_unacked", "0", "max_unacked = \"0\" is not a whole number of 1 or more"},
        {"stream_management", "resume", "yes", "[modules.stream_management] resume = \"yes\" is neither"},
        {"version", "show_os", "1", "[modules.version] show_os = \"1\" is neither true nor false"},
        {"roster", "max_items", "-5", "[modules.roster] max_items = \"-5\" is not a whole number"},
        {"offline", "max_messages", "many", "[modules.offline] max_messages = \"many\""},
        {"vcard", "max_bytes", "big", "[modules.vcard] max_bytes = \"big\" is not a size"},
    };
    for (const Case& c : cases) {
        const std::string error = startError(c.module, c.key, c.value);
        EXPECT_NE(error.find("module '" + c.module + "': "), std::string::npos) << error;
        EXPECT_NE(error.find(c.expected), std::string::npos) << error;
    }
}

TEST(ModuleOptions, GoodValuesStart) {
    EXPECT_EQ(startError("mam", "max_age", "90d"), "");
    EXPECT_EQ(startError("mam", "max_age", "0"), "");  // 0: keep forever
    EXPECT_EQ(startError("stream_management", "resume", "false"), "");
    EXPECT_EQ(startError("version", "show_os", "true"), "");
}

}  // namespace
}  // namespace parley::test
