#include "parley/server/event_loops.h"

namespace parley::server {
namespace {
thread_local asio::io_context* currentLoop = nullptr;
}

EventLoops::EventLoops(std::size_t count) {
    if (count == 0)
        count = std::max<std::size_t>(1, std::thread::hardware_concurrency());
    for (std::size_t i = 0; i < count; ++i) {
        // Concurrency hint 1: each io_context is run by exactly one thread, so Asio can skip locking.
        loops_.push_back(std::make_unique<asio::io_context>(1));
        guards_.emplace_back(asio::make_work_guard(*loops_.back()));
    }
}

EventLoops::~EventLoops() {
    stop();
}

asio::io_context& EventLoops::current() {
    return currentLoop ? *currentLoop : *loops_.front();
}

bool EventLoops::isCurrentThreadALoop() const noexcept {
    return currentLoop != nullptr;
}

void EventLoops::start() {
    for (auto& loop : loops_) {
        threads_.emplace_back([context = loop.get()] {
            currentLoop = context;
            context->run();
            currentLoop = nullptr;
        });
    }
}

void EventLoops::releaseWork() {
    for (auto& guard : guards_)
        guard.reset();
}

void EventLoops::stop() {
    releaseWork();
    for (auto& loop : loops_)
        loop->stop();
    join();
}

void EventLoops::join() {
    for (auto& thread : threads_) {
        if (thread.joinable())
            thread.join();
    }
    threads_.clear();
}

}  // namespace parley::server
