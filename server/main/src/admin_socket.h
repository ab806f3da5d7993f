#pragma once
// AdminSocket: a Unix socket in the data directory (mode 0600) through which parleyctl asks a running
// server for its sessions and tells it about account changes. One command line in, text lines out.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "parley/base/result.h"

namespace parley::server {

class Server;

class AdminSocket {
  public:
    static Result<std::unique_ptr<AdminSocket>, std::string> open(Server& server, std::filesystem::path path);
    ~AdminSocket();

    // The answer to one command, as it goes back to parleyctl: "status", "sessions", "kick user@host"
    // (close the account's sessions), "deluser user@host" (delete the account, tell the modules, close
    // its sessions; "deleted, closed N" or "error: ..."). Runs on loop 0.
    static boost::asio::awaitable<std::string> execute(Server* server, std::string command);

  private:
    AdminSocket(Server& server, std::filesystem::path path);
    Server& server_;
    std::filesystem::path path_;
    std::shared_ptr<boost::asio::local::stream_protocol::acceptor> acceptor_;
};

struct AdminError {
    std::string message;
};

// Client side for parleyctl: sends one command, returns the reply, or an error if no server listens.
Result<std::string, AdminError> adminRequest(const std::filesystem::path& socketPath,
                                             const std::string& command);

}  // namespace parley::server
