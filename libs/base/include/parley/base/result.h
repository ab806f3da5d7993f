#pragma once
// Expected failures are values (docs/STYLE.md rule 5). Result<T, E> is the project's alias for
// boost::system::result; it becomes std::expected once the project moves to C++23.
//
// Convention: E is always a dedicated error type (an enum class or a struct), never a type that T
// converts from, so that `return value;` and `return error;` are both unambiguous. A Result<void, E>
// succeeds with `return {};`.
#include <boost/system/result.hpp>

namespace parley {

template <class T, class E>
using Result = boost::system::result<T, E>;

}  // namespace parley
