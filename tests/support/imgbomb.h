/* sitx-imgtool bomb ...: crafted PNG and JPEG files for the image-bomb tests
 * (see imgbomb.c for the kinds). */
#ifndef SITX_IMGBOMB_H
#define SITX_IMGBOMB_H

/* argv[1] is "bomb". Returns the exit status, or -1 for a usage error. */
int imgbomb_main(int argc, char **argv);

#endif
