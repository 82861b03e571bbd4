// HYPERSPACE_EXPORT marks what libhyperspace-client exports: the classes and functions of
// <hyperspace/client.h>. The library is built with hidden visibility, so everything else in it
// (the RPC codec, the I/O thread, Asio, hyperspace::detail) stays private to it.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define HYPERSPACE_EXPORT __attribute__((visibility("default")))
#else
#define HYPERSPACE_EXPORT
#endif
