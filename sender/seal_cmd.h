/* sitx-send --seal OUT.sitx: seal one image into a file (seal_cmd.c). */
#ifndef SITX_SEND_SEAL_CMD_H
#define SITX_SEND_SEAL_CMD_H

/* 1 when the command line asks for --seal (or --preview), 0 otherwise
 * (also when it asks for --help or --version, which main.c answers). */
int seal_cmd_wanted(int argc, char **argv);

/* Parses the whole command line itself and runs; returns the exit code
 * (enum send_exit). Usage errors exit with SEND_EXIT_USAGE. */
int seal_cmd_main(int argc, char **argv);

#endif
