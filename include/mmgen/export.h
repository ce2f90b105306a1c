/* mmgen/export.h - the one export macro for libmmgen's public functions.
 *
 * libmmgen is built with -fvisibility=hidden; only declarations marked MMG_API
 * (and listed in the linker version script) are exported. Callers never need
 * to define anything: MMGEN_BUILDING is set only while building the library. */
#ifndef MMGEN_EXPORT_H
#define MMGEN_EXPORT_H

#if defined(_WIN32) || defined(__CYGWIN__)
#  if defined(MMGEN_BUILDING)
#    define MMG_API __declspec(dllexport)
#  else
#    define MMG_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define MMG_API __attribute__((visibility("default")))
#else
#  define MMG_API
#endif

#ifdef __cplusplus
#  define MMG_EXTERN_C_BEGIN extern "C" {
#  define MMG_EXTERN_C_END }
#else
#  define MMG_EXTERN_C_BEGIN
#  define MMG_EXTERN_C_END
#endif

#endif /* MMGEN_EXPORT_H */
