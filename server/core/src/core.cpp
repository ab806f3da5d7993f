#include "parley/server/core.h"

#include "parley/base/random.h"
#include "parley/storage/storage.h"

namespace parley::server {

ServerCore::ServerCore(ServerConfig config, std::unique_ptr<storage::Storage> storage,
                       std::shared_ptr<const Clock> clock)
    : config_(std::move(config)),
      storage_(std::move(storage)),
      clock_(std::move(clock)),
      loops_(config_.threads),
      router_(*this),
      modules_(*this),
      credentialSecret_(randomBytes(32)) {}

ServerCore::~ServerCore() {
    modules_.stop();
    loops_.stop();
    cpuPool_.join();
}

void ServerCore::endSession(Session& session) {
    if (!session.isBound())
        return;
    sessions_.unbind(session);
    if (session.ended_.exchange(true))
        return;
    modules_.fireSessionEnded(session);
}

bool ServerCore::transferSession(Session& previous, const SessionPtr& heir) {
    if (previous.ended_.exchange(true))
        return false;
    if (!sessions_.replace(previous, heir)) {
        sessions_.bind(heir, 0);  // not in the registry (cannot happen while it was not ended): bind anew
    }
    return true;
}

}  // namespace parley::server
