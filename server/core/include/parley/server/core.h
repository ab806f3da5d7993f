#pragma once
// ServerCore: the parts every connection and module shares: configuration, storage, clock, event
// loops, the session registry, the router and the module host. It knows addresses, not features.
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <string>

#include "parley/server/clock.h"
#include "parley/server/config.h"
#include "parley/server/event_loops.h"
#include "parley/server/iq_tracker.h"
#include "parley/server/module_host.h"
#include "parley/server/router.h"
#include "parley/server/session_registry.h"
#include "parley/server/timers.h"

namespace parley::storage {
class Storage;
}

namespace parley::server {

class ServerCore {
  public:
    ServerCore(ServerConfig config, std::unique_ptr<storage::Storage> storage,
               std::shared_ptr<const Clock> clock);
    ~ServerCore();

    const ServerConfig& config() const noexcept { return config_; }
    storage::Storage& storage() noexcept { return *storage_; }
    const Clock& clock() const noexcept { return *clock_; }
    EventLoops& loops() noexcept { return loops_; }
    SessionRegistry& sessions() noexcept { return sessions_; }
    Router& router() noexcept { return router_; }
    ModuleHost& modules() noexcept { return modules_; }
    // Iq requests the server sent and awaits answers to (the router offers it every iq result/error
    // addressed to a served domain or a local bare JID).
    IqTracker& iqTracker() noexcept { return iqTracker_; }
    // Periodic and one-shot work of modules, on the Clock (ModuleContext::every / after).
    Timers& timers() noexcept { return timers_; }
    // Threads for CPU-heavy work (see offload.h); never used for I/O.
    boost::asio::thread_pool& cpuPool() noexcept { return cpuPool_; }

    // The configuration of a domain we serve, or nullptr.
    const HostConfig* host(std::string_view domain) const noexcept { return config_.findHost(domain); }
    // The secret for fabricating SCRAM challenges for unknown users (RFC 6120 §13.11). It must be the
    // same across restarts, or an unknown user's salt would change while a real user's does not.
    const std::string& credentialSecret() const noexcept { return credentialSecret_; }
    void setCredentialSecret(std::string secret) { credentialSecret_ = std::move(secret); }
    // A client bound `session` (already in the registry): runs the SessionBound hooks.
    void sessionBound(Session& session) { modules_.fireSessionBound(session); }
    // Takes a bound session out of the registry and, the first time only, runs the SessionEnded hooks.
    // Call on the session's loop.
    void endSession(Session& session);
    // `heir` took over `previous` (Session::takeOver): it replaces it in the registry, and `previous`
    // counts as ended without running the SessionEnded hooks (the session goes on as `heir`).
    // False if `previous` already ended.
    bool transferSession(Session& previous, const SessionPtr& heir);

    // Process-unique ids for sessions and streams.
    std::uint64_t nextSessionId() noexcept { return ++sessionIds_; }

  private:
    ServerConfig config_;
    std::unique_ptr<storage::Storage> storage_;
    std::shared_ptr<const Clock> clock_;
    EventLoops loops_;
    // After loops_: destroyed first, so that requests still waiting release their loops' work.
    IqTracker iqTracker_{*clock_};
    Timers timers_{*clock_, loops_};
    SessionRegistry sessions_;
    Router router_;
    ModuleHost modules_;
    boost::asio::thread_pool cpuPool_{2};
    std::string credentialSecret_;
    std::atomic<std::uint64_t> sessionIds_{0};
};

}  // namespace parley::server
