#pragma once
// Expected failures are values (docs/STYLE.md rule 5). Result<T, E> is the project's alias for
// boost::system::result; it becomes std::expected once the project moves to C++23.
//
// Convention: E is always a dedicated error type (an enum class or a struct), never a type that T
// converts from, so that `return value;` and `return error;` are both unambiguous. A Result<void, E>
// succeeds with `return {};`.
#include <boost/system/result.hpp>
#include <stdexcept>
#include <string>

namespace parley {

template <class T, class E>
using Result = boost::system::result<T, E>;

// result::value() on an error state calls throw_exception_from_error(error, location), found by
// argument-dependent lookup. Error types in namespace parley get this one; prefer checking and `*r`.
// Calling value() on an error is a programming error (docs/STYLE.md rule 5).
template <class E>
[[noreturn]] void throw_exception_from_error(const E&, const boost::source_location& location) {
    throw std::logic_error(std::string("Result::value() called on an error at ") + location.file_name() +
                           ":" + std::to_string(location.line()));
}

}  // namespace parley
