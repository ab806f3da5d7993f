// XEP-0202: Entity Time. The server reports UTC with a zero offset.
#include <ctime>

#include "parley/server/module.h"

namespace parley::server::modules {
namespace {

constexpr std::string_view kTimeNamespace = "urn:xmpp:time";

class TimeModule final : public Module {
  public:
    void start(ModuleContext& context) override {
        clock_ = &context.clock();
        registrations_.push_back(context.addDiscoFeature(std::string(kTimeNamespace)));
        registrations_.push_back(
            context.onIq(xmpp::IqType::Get, scopes({IqScope::Host}), std::string(kTimeNamespace), "time",
                         [this](IqRequest request) { return handleTime(std::move(request)); }));
    }

  private:
    asio::awaitable<IqResult> handleTime(IqRequest) {
        const std::time_t now = static_cast<std::time_t>(clock_->unixSeconds());
        std::tm utc{};
        gmtime_r(&now, &utc);
        char stamp[32];
        // XEP-0082 DateTime profile.
        std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &utc);
        xml::Element time("time", std::string(kTimeNamespace));
        time.append("tzo", std::string(kTimeNamespace)).appendText("+00:00");
        time.append("utc", std::string(kTimeNamespace)).appendText(stamp);
        co_return time;
    }

    const Clock* clock_ = nullptr;
    std::vector<Registration> registrations_;
};

}  // namespace

ModuleInfo timeModule() {
    return {"time", "tells the server's time", {"XEP-0202"}, [] {
                return std::unique_ptr<Module>(std::make_unique<TimeModule>());
            }};
}

}  // namespace parley::server::modules
