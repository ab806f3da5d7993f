#pragma once
// Server: wires the configuration, storage, certificates, modules and listeners into a running server.
// parleyd, the admin tool and the in-process tests all start servers through this one class.
#include <memory>
#include <string>
#include <vector>

#include "parley/base/result.h"
#include "parley/net/connection.h"
#include "parley/server/clock.h"
#include "parley/server/config.h"
#include "parley/server/core.h"
#include "parley/storage/storage.h"

namespace parley::server {

class C2sService;
class AdminSocket;

class Server {
  public:
    struct Options {
        ServerConfig config;
        std::shared_ptr<const Clock> clock;         // default: the system clock
        std::unique_ptr<storage::Storage> storage;  // default: opened from config.storage
        bool adminSocket = true;                    // <data_dir>/parleyd.sock for parleyctl
    };

    // Opens storage, prepares certificates (making self-signed ones where configured) and starts the
    // modules. The error says what failed and how to fix it.
    static Result<std::unique_ptr<Server>, std::string> create(Options options);
    ~Server();

    // Opens the listeners and starts the event loops.
    Result<void, std::string> start();
    // RFC 6120 §4.9.3.20: <system-shutdown/> to every stream, a bounded wait for them to flush, then
    // the loops and storage stop. Safe to call more than once.
    void stop();

    // The addresses the listeners are bound to, in configuration order (port 0 resolved).
    const std::vector<net::tcp::endpoint>& endpoints() const noexcept { return endpoints_; }
    ServerCore& core() noexcept { return *core_; }
    C2sService& c2s() noexcept { return *c2s_; }

  private:
    Server() = default;
    std::unique_ptr<net::TlsServerContext> tls_;
    std::unique_ptr<ServerCore> core_;
    std::unique_ptr<C2sService> c2s_;
    std::unique_ptr<AdminSocket> admin_;
    std::vector<net::tcp::endpoint> endpoints_;
    bool adminSocketWanted_ = true;
    bool stopped_ = false;
};

}  // namespace parley::server
