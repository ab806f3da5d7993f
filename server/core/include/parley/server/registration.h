#pragma once
// Registration: an RAII handle for anything a module registers (an IQ handler, a hook, a stream
// feature). Destroying the handle unregisters, so stopping a module is destroying it (docs/STYLE.md 2).
#include <functional>
#include <utility>

namespace parley::server {

class [[nodiscard]] Registration {
  public:
    Registration() = default;
    explicit Registration(std::function<void()> undo) : undo_(std::move(undo)) {}
    Registration(Registration&& other) noexcept : undo_(std::exchange(other.undo_, nullptr)) {}
    Registration& operator=(Registration&& other) noexcept {
        if (this != &other) {
            reset();
            undo_ = std::exchange(other.undo_, nullptr);
        }
        return *this;
    }
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    ~Registration() { reset(); }

    void reset() {
        if (auto undo = std::exchange(undo_, nullptr))
            undo();
    }

  private:
    std::function<void()> undo_;
};

}  // namespace parley::server
