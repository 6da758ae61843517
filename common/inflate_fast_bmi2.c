/* inflate_fast.c again, built with BMI2 (CMakeLists.txt gives this file
 * the flags); inflate_strict.c calls it only on a CPU that has them. */
#define CODED_FAST sitx_inflate_coded_fast_bmi2
#include "inflate_fast.c"
