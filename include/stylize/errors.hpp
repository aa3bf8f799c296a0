// Typed errors thrown by the stylize library. The library never prints or
// exits; the command-line front end maps each kind to a documented exit code.
#pragma once

#include <stdexcept>
#include <string>

namespace stylize {

// Every error the library throws derives from Error. The message is meant for a
// person: it says what was expected, what was found and what to do.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An option has a value outside what the tool accepts (negative weight, unknown layer...).
class OptionError : public Error {
 public:
  using Error::Error;
};

// A content, style or init image cannot be read or decoded, or is unusable.
class ImageError : public Error {
 public:
  using Error::Error;
};

// A weights file is missing, malformed, truncated or does not describe a VGG19.
class WeightsError : public Error {
 public:
  using Error::Error;
};

// A download failed (network error, HTTP error, wrong size or checksum) or a
// checksum could not be computed. Thrown by the fetch wing, which knows
// nothing about weights; the message names the URL, the reason and where to
// put the file by hand.
class FetchError : public Error {
 public:
  using Error::Error;
};

// The requested compute device or precision is not available.
class DeviceError : public Error {
 public:
  using Error::Error;
};

// The output file cannot be written.
class OutputError : public Error {
 public:
  using Error::Error;
};

// The run needs more memory than the device has available.
class ResourceError : public Error {
 public:
  using Error::Error;
};

}  // namespace stylize
