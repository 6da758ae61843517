/* image_jpeg_scan.c again, built with BMI2 and POPCNT (CMakeLists.txt
 * gives this file the flags); image_jpeg_fast.c calls it only on a CPU
 * that has them. */
#define SCAN_DATA sitx_jpeg_scan_data_bmi2
#include "image_jpeg_scan.c"
