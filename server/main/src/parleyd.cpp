// parleyd: the Parley XMPP server. Without --config it runs the development default of `make run`.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "parley/server/log.h"
#include "parley/server/server.h"
#include "parley/server/version.h"

using namespace parley::server;

namespace {

void usage() {
    std::cout << "usage: parleyd [--config FILE] [--check]\n"
                 "  --config FILE  run with this TOML configuration (docs/configuration.md)\n"
                 "                 without it: the development default (localhost, ports 5222/5223 on\n"
                 "                 loopback, SQLite in ./var, self-signed certificate, open registration)\n"
                 "  --check        validate the configuration and exit\n"
                 "  --version      print the version\n";
}

}  // namespace

int main(int argc, char** argv) {
    std::string configFile;
    bool checkOnly = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--config" && i + 1 < argc) {
            configFile = argv[++i];
        } else if (arg == "--check") {
            checkOnly = true;
        } else if (arg == "--version") {
            std::cout << "parleyd " << kParleyVersion << "\n";
            return 0;
        } else if (arg == "--help" || arg == "-h") {
            usage();
            return 0;
        } else {
            std::cerr << "parleyd: unknown argument '" << arg << "'\n";
            usage();
            return 2;
        }
    }

    ServerConfig config;
    if (configFile.empty()) {
        config = developmentConfig();
    } else {
        auto loaded = loadConfigFile(configFile);
        if (!loaded) {
            std::cerr << "parleyd: " << configFile << ": " << loaded.error().toString() << "\n";
            return 2;
        }
        config = std::move(*loaded);
    }
    if (checkOnly) {
        std::cout << "parleyd: configuration OK (" << config.hosts.size() << " host(s), "
                  << config.listeners.size() << " listener(s))\n";
        return 0;
    }
    const Logger log("parleyd");
    log.info(
        std::string("Parley ") + std::string(kParleyVersion) + " starting" +
        (configFile.empty() ? " with the development default (no --config given)" : " with " + configFile));

    // Writing to a closed socket must give EPIPE, not kill the server.
    std::signal(SIGPIPE, SIG_IGN);
    Server::Options options;
    options.config = std::move(config);
    const bool openRegistration = !options.config.hosts.empty() &&
                                  options.config.hosts.front().registration == RegistrationPolicy::Open;
    const std::string firstHost =
        options.config.hosts.empty() ? "localhost" : options.config.hosts.front().domain;
    auto server = Server::create(std::move(options));
    if (!server) {
        std::cerr << "parleyd: cannot start: " << server.error() << "\n";
        return 1;
    }
    if (auto started = (*server)->start(); !started) {
        std::cerr << "parleyd: cannot start: " << started.error() << "\n";
        return 1;
    }
    log.info("create a user with: parleyctl" +
             (configFile.empty() ? std::string() : " --config " + configFile) + " adduser alice@" +
             firstHost +
             (openRegistration ? " (or register from your client: in-band registration is open)" : ""));

    boost::asio::io_context signals;
    boost::asio::signal_set set(signals, SIGINT, SIGTERM);
    set.async_wait([&](const boost::system::error_code&, int signal) {
        log.info(std::string("received ") + (signal == SIGINT ? "SIGINT" : "SIGTERM") + ", shutting down");
    });
    signals.run();
    (*server)->stop();
    log.info("stopped");
    return 0;
}
