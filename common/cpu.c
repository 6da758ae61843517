#include "cpu.h"

static int forced_baseline;

int sitx_cpu_bmi2(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    return !forced_baseline && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
           __builtin_cpu_supports("popcnt");
#else
    return 0;
#endif
}

void sitx_cpu_force_baseline(int on)
{
    forced_baseline = on != 0;
}
