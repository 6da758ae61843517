/* Keys an operator can see: the public key of a private key file, and the
 * authorised senders, each with its fingerprint. */
#ifndef SITX_RECV_KEYS_H
#define SITX_RECV_KEYS_H

/* Prints the public key (first line) and its fingerprint. Returns an exit code. */
int keys_print_public(const char *prog, const char *path);
/* Prints "fingerprint  name  key" per authorised sender. Returns an exit code. */
int keys_list_senders(const char *path);

#endif
