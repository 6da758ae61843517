/* sitx-recv --open FILE.sitx --out DIR: open one sealed file (open_cmd.c). */
#ifndef SITX_RECV_OPEN_CMD_H
#define SITX_RECV_OPEN_CMD_H

/* Exit codes of --open; 0..2 are the daemon's too. */
enum open_exit {
    OPEN_EXIT_OK = 0,
    OPEN_EXIT_RUNTIME = 1,    /* cannot read FILE or write DIR, no memory */
    OPEN_EXIT_USAGE = 2,      /* bad command line, unreadable key or password file */
    OPEN_EXIT_NOT_SEALED = 3, /* not a sealed file, or another format version */
    OPEN_EXIT_AUTH = 4,       /* wrong key or password, sender not in --authorized */
    OPEN_EXIT_DAMAGED = 5,    /* a changed byte, truncated, reordered, bytes appended */
    OPEN_EXIT_BAD_IMAGE = 6,  /* the image fails validation or is over a limit */
};

/* 1 when the command line asks for --open (or --out), 0 otherwise (also
 * with --help or --version, which main.c answers). */
int open_cmd_wanted(int argc, char **argv);

/* Parses the whole command line itself and runs; returns enum open_exit. */
int open_cmd_main(int argc, char **argv);

#endif
