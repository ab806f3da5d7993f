#include "admin_socket.h"

#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <istream>

#include "parley/server/log.h"
#include "parley/server/server.h"
#include "parley/storage/storage.h"
#include "parley/streams/c2s_service.h"

namespace parley::server {

namespace local = asio::local;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

AdminSocket::AdminSocket(Server& server, std::filesystem::path path)
    : server_(server), path_(std::move(path)) {}

AdminSocket::~AdminSocket() {
    if (acceptor_) {
        boost::system::error_code ignored;
        acceptor_->close(ignored);
    }
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
}

Result<std::unique_ptr<AdminSocket>, std::string> AdminSocket::open(Server& server,
                                                                    std::filesystem::path path) {
    std::unique_ptr<AdminSocket> admin(new AdminSocket(server, path));
    // A socket file left by a crashed server is replaced; one that a live server answers is not.
    if (std::filesystem::exists(path)) {
        if (adminRequest(path, "status"))
            return std::string("another parleyd already uses " + path.string());
        std::error_code ignored;
        std::filesystem::remove(path, ignored);
    }
    if (path.string().size() >= 100)
        return std::string("the admin socket path " + path.string() + " is too long");
    auto acceptor = std::make_shared<local::stream_protocol::acceptor>(server.core().loops().loop(0));
    boost::system::error_code ec;
    const mode_t previous = ::umask(0077);  // the socket is for the server's own user only
    acceptor->open(local::stream_protocol(), ec);
    if (!ec)
        acceptor->bind(local::stream_protocol::endpoint(path.string()), ec);
    if (!ec)
        acceptor->listen(16, ec);
    ::umask(previous);
    if (ec)
        return std::string("cannot open the admin socket " + path.string() + ": " + ec.message());
    admin->acceptor_ = acceptor;
    Server* srv = &server;
    asio::co_spawn(
        server.core().loops().loop(0),
        [acceptor, srv]() -> asio::awaitable<void> {
            while (acceptor->is_open()) {
                auto [ec2, socket] = co_await acceptor->async_accept(kTuple);
                if (ec2)
                    break;
                asio::streambuf buffer(4096);
                auto [readError, n] = co_await asio::async_read_until(socket, buffer, '\n', kTuple);
                if (readError)
                    continue;
                std::istream input(&buffer);
                std::string command;
                std::getline(input, command);
                const std::string reply = co_await AdminSocket::execute(srv, std::move(command));
                co_await asio::async_write(socket, asio::buffer(reply), kTuple);
            }
        },
        asio::detached);
    return admin;
}

namespace {

const Logger& adminLog() {
    static const Logger log("admin");
    return log;
}

// Closes every session of an account; returns how many there were.
std::size_t closeSessionsOf(ServerCore& core, const Jid& bare, std::string text) {
    std::size_t closed = 0;
    for (const SessionPtr& session : core.sessions().resourcesOf(bare)) {
        session->close({xmpp::StreamErrorCondition::NotAuthorized, text, {}});
        ++closed;
    }
    return closed;
}

}  // namespace

asio::awaitable<std::string> AdminSocket::execute(Server* server, std::string command) {
    ServerCore& core = server->core();
    if (command == "status") {
        co_return "connections " + std::to_string(server->c2s().liveConnections()) + "\nsessions " +
            std::to_string(core.sessions().size()) + "\n";
    }
    if (command == "sessions") {
        std::string out;
        core.sessions().forEach([&](const SessionPtr& session) {
            out += session->jid().str() + "\t" + (session->isAvailable() ? "available" : "unavailable") +
                   "\t" + std::to_string(session->priority()) + "\t" + session->describe() + "\n";
        });
        co_return out;
    }
    if (command.starts_with("kick ")) {
        auto jid = Jid::parse(command.substr(5));
        if (!jid)
            co_return "error: not a JID\n";
        const std::size_t closed =
            closeSessionsOf(core, jid->bare(), "The account was changed by an administrator");
        co_return "closed " + std::to_string(closed) + "\n";
    }
    if (command.starts_with("deluser ")) {
        // Deleted here rather than by parleyctl on the database, so that the modules hear of it
        // (AccountDeleted: the blocking module drops its cached list) before the sessions close.
        auto jid = Jid::parse(command.substr(8));
        if (!jid || !jid->hasLocal() || jid->hasResource())
            co_return "error: not an account address\n";
        if (!core.host(jid->domain()))
            co_return "error: " + std::string(jid->domain()) + " is not a host of this server\n";
        std::string host(jid->domain());
        std::string user(jid->local());
        auto removed =
            co_await core.storage().accounts().deleteAccount(host, user, core.clock().unixSeconds());
        if (!removed) {
            if (removed.error() == storage::StorageError::NotFound)
                co_return "error: no such account\n";
            adminLog().error("cannot delete the account " + jid->bare().str() + ": " +
                             std::string(storage::toString(removed.error())));
            co_return "error: the storage failed (" + std::string(storage::toString(removed.error())) +
                "); see the server log\n";
        }
        adminLog().info("account deleted by parleyctl: " + jid->bare().str());
        const AccountDeletedEvent event{std::move(host), std::move(user)};
        core.modules().fireAccountDeleted(event);
        const std::size_t closed = closeSessionsOf(core, jid->bare(), "The account was removed");
        co_return "deleted, closed " + std::to_string(closed) + "\n";
    }
    co_return "error: unknown command '" + command + "'\n";
}

Result<std::string, AdminError> adminRequest(const std::filesystem::path& socketPath,
                                             const std::string& command) {
    asio::io_context context;
    local::stream_protocol::socket socket(context);
    boost::system::error_code ec;
    socket.connect(local::stream_protocol::endpoint(socketPath.string()), ec);
    if (ec)
        return AdminError{"no running parleyd answers on " + socketPath.string() + " (" + ec.message() + ")"};
    asio::write(socket, asio::buffer(command + "\n"), ec);
    if (ec)
        return AdminError{"cannot send to parleyd: " + ec.message()};
    std::string reply;
    asio::read(socket, asio::dynamic_buffer(reply), ec);
    if (ec && ec != asio::error::eof)
        return AdminError{"cannot read from parleyd: " + ec.message()};
    // in_place_value: AdminError is constructible from a string too (C++20 aggregate init).
    return Result<std::string, AdminError>(boost::system::in_place_value, std::move(reply));
}

}  // namespace parley::server
