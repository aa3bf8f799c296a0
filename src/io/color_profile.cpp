// The only translation unit that includes Little CMS 2.
#include "stylize/io/color_profile.hpp"

#include <lcms2.h>

#include <algorithm>
#include <memory>
#include <type_traits>

#include <ATen/Parallel.h>

#include "stylize/errors.hpp"
#include "stylize/io/icc_container.hpp"

namespace stylize {
namespace {

// lcms2 reports why it failed through an error handler; keep the last message
// of this thread for the exception.
thread_local std::string t_lcms_error;

void record_lcms_error(cmsContext, cmsUInt32Number, const char* text) { t_lcms_error = text != nullptr ? text : ""; }

// A context of stylize's own, so the handler does not change lcms2's global one.
// Never destroyed: profiles and transforms may outlive static destruction order.
cmsContext lcms_context() {
  static const cmsContext context = [] {
    cmsContext created = cmsCreateContext(nullptr, nullptr);
    cmsSetLogErrorHandlerTHR(created, record_lcms_error);
    return created;
  }();
  return context;
}

struct ProfileCloser {
  void operator()(void* profile) const { cmsCloseProfile(profile); }
};
struct TransformDeleter {
  void operator()(void* transform) const { cmsDeleteTransform(transform); }
};
using Profile = std::unique_ptr<std::remove_pointer_t<cmsHPROFILE>, ProfileCloser>;
using Transform = std::unique_ptr<std::remove_pointer_t<cmsHTRANSFORM>, TransformDeleter>;

std::string lcms_reason() { return t_lcms_error.empty() ? std::string() : " (lcms2: " + t_lcms_error + ")"; }

Profile open_profile(const std::string& icc) {
  t_lcms_error.clear();
  return Profile(cmsOpenProfileFromMemTHR(lcms_context(), icc.data(), static_cast<cmsUInt32Number>(icc.size())));
}

// sRGB as the profile embedded in outputs describes it (its matrix stored in
// s15.16 fixed point), so that output pixels mean what their tag says.
Profile open_srgb() { return open_profile(srgb_icc_profile()); }

constexpr cmsUInt32Number kIntent = INTENT_RELATIVE_COLORIMETRIC;
// No 1-pixel cache: one transform runs on several threads at once.
constexpr cmsUInt32Number kFlags = cmsFLAGS_BLACKPOINTCOMPENSATION | cmsFLAGS_NOCACHE;
// float32 RGB in planes, the layout of a (3, H, W) tensor.
constexpr cmsUInt32Number kRgbPlanar =
    FLOAT_SH(1) | COLORSPACE_SH(PT_RGB) | CHANNELS_SH(3) | BYTES_SH(4) | PLANAR_SH(1);

Transform make_transform(cmsHPROFILE from, cmsUInt32Number from_format, cmsHPROFILE to, cmsUInt32Number to_format) {
  t_lcms_error.clear();
  return Transform(cmsCreateTransformTHR(lcms_context(), from, from_format, to, to_format, kIntent, kFlags));
}

std::string space_name(cmsColorSpaceSignature space) {
  switch (space) {
    case cmsSigCmykData:
      return "CMYK";
    case cmsSigLabData:
      return "CIE Lab";
    case cmsSigXYZData:
      return "CIE XYZ";
    default: {
      std::string name;
      for (int shift = 24; shift >= 0; shift -= 8) {
        const char c = static_cast<char>((static_cast<uint32_t>(space) >> shift) & 0xff);
        name += c >= 0x20 && c < 0x7f ? c : '?';
      }
      return "'" + name + "'";
    }
  }
}

// The profile's description, printable ASCII only, at most 64 characters.
std::string description(cmsHPROFILE profile) {
  char text[256] = {};
  cmsGetProfileInfoASCII(profile, cmsInfoDescription, "en", "US", text, sizeof text);
  std::string name;
  for (const char* c = text; *c != '\0' && name.size() < 64; ++c) name += *c >= 0x20 && *c < 0x7f ? *c : '?';
  while (!name.empty() && name.back() == ' ') name.pop_back();
  return name.empty() ? "unnamed profile" : name;
}

// Whether `image` is a (1, 3, H, W) or (3, H, W) image whose planes lcms2's
// 32-bit strides can address.
bool convertible(const torch::Tensor& image) {
  return ((image.dim() == 4 && image.size(0) == 1) || image.dim() == 3) && image.size(-3) == 3 &&
         static_cast<uint64_t>(image.size(-2)) * static_cast<uint64_t>(image.size(-1)) * sizeof(float) <= UINT32_MAX;
}

// Runs `transform` over a float image, from its three planes (or, for a grey
// source, its first plane) into three planes, rows split over LibTorch's
// threads; clipped to [0, 1]. An RGB source is converted in place in a copy
// (lcms2 reads each pixel before it writes it), so a large image costs one
// extra copy, not two.
torch::Tensor apply(cmsHTRANSFORM transform, const torch::Tensor& image, bool gray_source) {
  const bool batched = image.dim() == 4;
  torch::Tensor source = (batched ? image.squeeze(0) : image).to(torch::kCPU, torch::kFloat32);
  if (gray_source) source = source.narrow(0, 0, 1);
  source = source.clamp(0.0, 1.0).contiguous();  // a new tensor: the caller's image is not changed
  const int64_t height = source.size(1), width = source.size(2);
  torch::Tensor out = gray_source ? torch::empty({3, height, width}, torch::kFloat32) : source;
  const float* in = source.data_ptr<float>();
  float* destination = out.data_ptr<float>();
  const auto line = static_cast<cmsUInt32Number>(width * sizeof(float));
  const auto plane = static_cast<cmsUInt32Number>(height * width * sizeof(float));
  const int64_t rows_per_task = std::max<int64_t>(1, 65536 / std::max<int64_t>(width, 1));
  at::parallel_for(0, height, rows_per_task, [&](int64_t begin, int64_t end) {
    cmsDoTransformLineStride(transform, in + begin * width, destination + begin * width,
                             static_cast<cmsUInt32Number>(width), static_cast<cmsUInt32Number>(end - begin), line, line,
                             plane, plane);
  });
  out.nan_to_num_(0.0).clamp_(0.0, 1.0);
  return batched ? out.unsqueeze(0) : out;
}

// No profile, or stylize's own sRGB profile (its outputs): nothing to convert.
bool is_srgb(const ColorProfile& profile) { return profile.empty() || profile.icc == srgb_icc_profile(); }

}  // namespace

ColorProfile parse_color_profile(const std::string& icc) {
  if (icc.size() < 132) {  // a 128-byte header and the tag count
    throw ImageError("its ICC profile is truncated (" + std::to_string(icc.size()) + " bytes)");
  }
  if (icc.size() > kMaxIccProfileBytes) {
    throw ImageError("its ICC profile is too large (" + std::to_string(icc.size()) + " bytes; stylize reads up to " +
                     std::to_string(kMaxIccProfileBytes) + ")");
  }
  const Profile profile = open_profile(icc);
  if (!profile) throw ImageError("its ICC profile is corrupt" + lcms_reason());
  ColorProfile result;
  result.icc = icc;
  result.name = description(profile.get());
  const cmsProfileClassSignature device_class = cmsGetDeviceClass(profile.get());
  if (device_class != cmsSigInputClass && device_class != cmsSigDisplayClass && device_class != cmsSigOutputClass &&
      device_class != cmsSigColorSpaceClass) {
    throw ImageError(
        "its ICC profile '" + result.name +
        "' is a device-link, abstract or named-colour profile, which does not describe an image's colours");
  }
  const cmsColorSpaceSignature space = cmsGetColorSpace(profile.get());
  if (space != cmsSigRgbData && space != cmsSigGrayData) {
    throw ImageError("its ICC profile '" + result.name + "' describes " + space_name(space) +
                     " colours, but the decoder delivers RGB or grey pixels");
  }
  result.gray = space == cmsSigGrayData;
  const Profile srgb = open_srgb();
  if (!make_transform(profile.get(), result.gray ? TYPE_GRAY_FLT : kRgbPlanar, srgb.get(), kRgbPlanar)) {
    throw ImageError("its ICC profile '" + result.name + "' cannot be converted to sRGB" + lcms_reason());
  }
  if (result.gray) {
    result.output_problem = "it is a grayscale profile, and stylize's output is in colour";
  } else if (!make_transform(srgb.get(), kRgbPlanar, profile.get(), kRgbPlanar)) {
    result.output_problem = "it can only be converted from, not into" + lcms_reason();
  }
  return result;
}

const std::string& srgb_icc_profile() {
  static const std::string bytes = [] {
    const Profile srgb(cmsCreate_sRGBProfileTHR(lcms_context()));
    cmsUInt32Number size = 0;
    std::string saved;
    if (srgb && cmsSaveProfileToMem(srgb.get(), nullptr, &size) && size > 0) {
      saved.resize(size);
      if (!cmsSaveProfileToMem(srgb.get(), saved.data(), &size)) saved.clear();
    }
    if (saved.empty()) throw OutputError("lcms2 could not create its sRGB profile" + lcms_reason());
    // lcms2 stamps the header with the time the profile was made (bytes 24 to
    // 35: year, month, day, hour, minute, second); a fixed date makes the same
    // image give the same file in every run.
    const char date[12] = {0x07, static_cast<char>(0xd0), 0, 1, 0, 1, 0, 0, 0, 0, 0, 0};  // 2000-01-01 00:00:00
    saved.replace(24, sizeof date, date, sizeof date);
    return saved;
  }();
  return bytes;
}

torch::Tensor convert_to_srgb(const torch::Tensor& image, const ColorProfile& profile) {
  if (is_srgb(profile)) return image;
  if (!convertible(image)) throw ImageError("cannot convert a " + c10::str(image.sizes()) + " tensor to sRGB");
  const Profile from = open_profile(profile.icc);
  const Profile srgb = open_srgb();
  const Transform transform =
      from ? make_transform(from.get(), profile.gray ? TYPE_GRAY_FLT : kRgbPlanar, srgb.get(), kRgbPlanar) : nullptr;
  if (!transform)
    throw ImageError("cannot convert from the ICC profile '" + profile.name + "' to sRGB" + lcms_reason());
  return apply(transform.get(), image, profile.gray);
}

torch::Tensor convert_from_srgb(const torch::Tensor& image, const ColorProfile& profile) {
  if (is_srgb(profile)) return image;
  if (!profile.output_problem.empty()) {
    throw OutputError("cannot convert the output into the ICC profile '" + profile.name +
                      "': " + profile.output_problem);
  }
  if (!convertible(image)) throw OutputError("cannot convert a " + c10::str(image.sizes()) + " tensor from sRGB");
  const Profile to = open_profile(profile.icc);
  const Profile srgb = open_srgb();
  const Transform transform = to ? make_transform(srgb.get(), kRgbPlanar, to.get(), kRgbPlanar) : nullptr;
  if (!transform) {
    throw OutputError("cannot convert the output into the ICC profile '" + profile.name + "'" + lcms_reason());
  }
  return apply(transform.get(), image, false);
}

}  // namespace stylize
