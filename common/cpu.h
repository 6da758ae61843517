/* What the CPU offers beyond the baseline x86-64 that distributions build
 * for. The few loops where it pays (the JPEG scan decoder, the inflate
 * fast loop) are built twice, once with BMI2 and POPCNT (CMakeLists.txt
 * defines SITX_CPU_VARIANTS where it can), and pick their build here. */
#ifndef SITX_CPU_H
#define SITX_CPU_H

/* 1 when the CPU has BMI1, BMI2 and POPCNT and the baseline builds
 * are not forced. Cheap; call it where a loop is chosen. */
int sitx_cpu_bmi2(void);

/* Tests: nonzero makes sitx_cpu_bmi2() say 0, so that both builds of
 * each loop run on one machine. Not for use while other threads decode. */
void sitx_cpu_force_baseline(int on);

#endif
