#pragma once
// TestServer: a real Parley server in the test process, on loopback ports chosen by the kernel, with
// in-memory storage, a FakeClock and certificates made in a temporary folder. Tests drive it through
// TestClient over real sockets.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "parley/server/clock.h"
#include "parley/server/config.h"
#include "parley/server/server.h"

namespace parley::test {

class TestServer {
  public:
    // Wraps the in-memory storage, e.g. in a test double that fails on demand.
    using StorageWrapper =
        std::function<std::unique_ptr<storage::Storage>(std::unique_ptr<storage::Storage>)>;

    // `tweak` may change the configuration before the server starts (limits, policies, hosts);
    // `wrapStorage` may put something between the server and its storage.
    explicit TestServer(std::function<void(server::ServerConfig&)> tweak = {},
                        StorageWrapper wrapStorage = {});
    ~TestServer();

    // Listeners, in this order: STARTTLS optional (plaintext allowed), STARTTLS required, direct TLS.
    std::uint16_t optionalTlsPort() const { return port(0); }
    std::uint16_t requiredTlsPort() const { return port(1); }
    std::uint16_t directTlsPort() const { return port(2); }
    std::uint16_t port(std::size_t listener) const;

    // Creates an account in the server's storage (password stored as SCRAM keys only).
    void addAccount(const std::string& user, const std::string& domain, const std::string& password);
    bool accountExists(const std::string& user, const std::string& domain);
    // Replaces the account's credentials with fresh ones for `password` (a password change).
    void setPassword(const std::string& user, const std::string& domain, const std::string& password);
    // Puts a roster item straight into storage: `subscription` is none, to, from or both.
    void addContact(const std::string& user, const std::string& domain, const std::string& contact,
                    const std::string& subscription);

    // Moves the fake clock and runs every session's timeout check and the module timers that became
    // due; returns once the checks and the timers' work have run (a session they close may still be
    // writing its last bytes).
    void advanceClock(std::chrono::seconds by);
    // Waits until `predicate` holds, polling the server state (bounded: fails after 10 s).
    bool waitFor(const std::function<bool()>& predicate);

    server::Server& server() { return *server_; }
    server::FakeClock& clock() { return *clock_; }
    const std::filesystem::path& directory() const { return directory_; }

  private:
    std::filesystem::path directory_;
    std::shared_ptr<server::FakeClock> clock_;
    std::unique_ptr<server::Server> server_;
};

}  // namespace parley::test
