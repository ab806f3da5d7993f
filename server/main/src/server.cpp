#include "parley/server/server.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "admin_socket.h"
#include "parley/base/random.h"
#include "parley/modules/registry.h"
#include "parley/streams/c2s_service.h"

namespace parley::server {

namespace {
const Logger& serverLog() {
    static const Logger log("server");
    return log;
}
struct SecretError {
    std::string message;
};

// A 32-byte secret kept in the data directory (mode 0600), made on first start.
Result<std::string, SecretError> loadOrCreateSecret(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (in) {
        std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (secret.size() == 32)
            return Result<std::string, SecretError>(boost::system::in_place_value, secret);
        return SecretError{file.string() + " is damaged (expected 32 bytes); delete it and restart"};
    }
    std::string secret = randomBytes(32);
    const auto temporary = file.string() + ".tmp";
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const bool written = fd >= 0 &&
                         ::write(fd, secret.data(), secret.size()) == static_cast<ssize_t>(secret.size()) &&
                         ::fsync(fd) == 0;
    if (fd >= 0)
        ::close(fd);
    if (!written || std::rename(temporary.c_str(), file.c_str()) != 0) {
        return SecretError{"cannot write " + file.string() + ": " + std::strerror(errno) +
                           " (the data directory must be writable)"};
    }
    return Result<std::string, SecretError>(boost::system::in_place_value, secret);
}

}  // namespace

Result<std::unique_ptr<Server>, std::string> Server::create(Options options) {
    ServerConfig& config = options.config;
    Log::setLevel(config.logLevel);
    std::unique_ptr<Server> server(new Server());
    server->adminSocketWanted_ = options.adminSocket;

    std::error_code fsError;
    std::filesystem::create_directories(config.dataDir, fsError);
    if (fsError) {
        return std::string("cannot create the data directory " + config.dataDir.string() + ": " +
                           fsError.message() + " (set data_dir to a writable folder)");
    }

    std::unique_ptr<storage::Storage> storage = std::move(options.storage);
    if (!storage) {
        storage::StorageOptions storageOptions;
        storageOptions.backend = config.storage.backend;
        storageOptions.path = config.storage.path;  // the loader has resolved it against data_dir
        storageOptions.synchronousFull = config.storage.synchronousFull;
        auto opened = storage::openStorage(storageOptions);
        if (!opened)
            return opened.error().message;
        storage = std::move(*opened);
        if (config.storage.backend == "sqlite")
            serverLog().info("storage: SQLite database " + storageOptions.path.string());
        else
            serverLog().info("storage: in memory (nothing survives a restart)");
    }

    // Certificates: configured files, or <data_dir>/certs/<domain>.{crt,key}, made self-signed on
    // first start when allowed.
    std::vector<net::TlsServerContext::HostCertificate> certificates;
    for (HostConfig& host : config.hosts) {
        host.certificate = config.certificatePath(host);
        host.privateKey = config.privateKeyPath(host);
        std::error_code missing;
        const bool haveBoth = std::filesystem::exists(host.certificate, missing) &&
                              std::filesystem::exists(host.privateKey, missing);
        if (!haveBoth && !host.selfSignedCertificate) {
            return std::string("the certificate for " + host.domain + " is missing: put it in " +
                               host.certificate.string() + " and its key in " + host.privateKey.string() +
                               ", or set self_signed_certificate = true for testing");
        }
        if (host.selfSignedCertificate) {
            auto made = net::ensureSelfSignedCertificate(host.certificate.string(), host.privateKey.string(),
                                                         host.domain);
            if (!made)
                return made.error();
            if (*made) {
                serverLog().info("made a self-signed certificate for " + host.domain + " in " +
                                 host.certificate.string() +
                                 " (clients will warn about it; configure a real one)");
            }
        }
        certificates.push_back({host.domain, host.certificate.string(), host.privateKey.string()});
    }
    if (!config.hosts.empty()) {
        auto tls = net::TlsServerContext::create(certificates, config.hosts.front().domain);
        if (!tls)
            return tls.error();
        server->tls_ = std::move(*tls);
    }

    std::shared_ptr<const Clock> clock = options.clock ? options.clock : std::make_shared<SystemClock>();
    auto secret = loadOrCreateSecret(config.dataDir / "credential.secret");
    if (!secret)
        return secret.error().message;
    server->core_ = std::make_unique<ServerCore>(std::move(config), std::move(storage), std::move(clock));
    server->core_->setCredentialSecret(std::move(*secret));
    if (auto started = server->core_->modules().start(builtinModules()); !started)
        return started.error();
    server->c2s_ = std::make_unique<C2sService>(*server->core_, server->tls_.get());
    return server;
}

Server::~Server() {
    stop();
}

Result<void, std::string> Server::start() {
    const ServerConfig& config = core_->config();
    for (const ListenerConfig& listener : config.listeners) {
        auto bound = c2s_->listen(listener);
        if (!bound) {
            boost::system::error_code ec;
            auto address = asio::ip::make_address(listener.address, ec);
            // A loopback IPv6 listener on a machine without IPv6 is not worth failing for.
            if (!ec && address.is_v6() && address.is_loopback()) {
                serverLog().warn(bound.error() + "; skipping this listener");
                continue;
            }
            return bound.error();
        }
        endpoints_.push_back(*bound);
        const std::string tlsMode = listener.tls == TlsMode::Direct
                                        ? "direct TLS"
                                        : (listener.requireTls ? "STARTTLS required" : "STARTTLS optional");
        serverLog().info("listening for clients on [" + bound->address().to_string() +
                         "]:" + std::to_string(bound->port()) + " (" + tlsMode + ")");
    }
    if (endpoints_.empty() && !config.listeners.empty())
        return std::string("no listener could be opened");
    if (adminSocketWanted_) {
        auto admin = AdminSocket::open(*this, core_->config().dataDir / "parleyd.sock");
        if (!admin) {
            serverLog().warn(admin.error() + "; parleyctl cannot reach this server");
        } else {
            admin_ = std::move(*admin);
        }
    }
    core_->loops().start();
    std::string hosts;
    for (const HostConfig& host : config.hosts)
        hosts += (hosts.empty() ? "" : ", ") + host.domain;
    serverLog().info("serving " + hosts + " with modules: " + [&] {
        std::string names;
        for (const std::string& name : core_->modules().startedModules())
            names += (names.empty() ? "" : ", ") + name;
        return names;
    }());
    return {};
}

void Server::stop() {
    if (stopped_ || !core_)
        return;
    stopped_ = true;
    admin_.reset();
    // No c2s service when create() failed after the core was made (a module refused to start).
    if (c2s_) {
        c2s_->shutdown({xmpp::StreamErrorCondition::SystemShutdown, "The server is shutting down", {}});
        // Give the streams a bounded time to write their final bytes (reliability row 44).
        const auto deadline = std::chrono::steady_clock::now() + core_->config().timeouts.closeGrace;
        while (c2s_->liveConnections() > 0 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    core_->loops().stop();
    core_->modules().stop();
    core_->storage().close();
}

}  // namespace parley::server
