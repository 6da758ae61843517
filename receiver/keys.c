#include "keys.h"

#include <stdio.h>

#include "err.h"
#include "keyfile.h"
#include "peers.h"

int keys_print_public(const char *prog, const char *path)
{
    struct sitx_keypair kp = {NULL, {0}};
    char pub[SITX_PUBKEY_TEXT_LEN + 1];
    char fp[SITX_FINGERPRINT_LEN + 1];
    int rc = sitx_keyfile_load(path, &kp);

    if (rc != 0) {
        fprintf(stderr, "%s: %s: %s%s\n", prog, path, sitx_strerror(rc),
                rc == SITX_E_PERMS ? " (chmod 600 it)" : "");
        return 1;
    }
    sitx_pubkey_encode(kp.pk, pub);
    sitx_fingerprint(kp.pk, fp);
    sitx_keypair_clear(&kp);
    printf("%s\nfingerprint: %s\n", pub, fp);
    return fflush(stdout) == 0 ? 0 : 1;
}

int keys_list_senders(const char *path)
{
    struct sitx_peers *peers = NULL;
    char err[256] = "";
    int rc = sitx_peers_load(path, &peers, err, sizeof(err));

    if (rc != 0) {
        fprintf(stderr, "sitx-recv: %s: %s\n", path, err[0] != '\0' ? err : sitx_strerror(rc));
        return 1;
    }
    for (size_t i = 0; i < peers->count; i++) {
        char pub[SITX_PUBKEY_TEXT_LEN + 1];
        char fp[SITX_FINGERPRINT_LEN + 1];

        sitx_pubkey_encode(peers->list[i].pk, pub);
        sitx_fingerprint(peers->list[i].pk, fp);
        printf("%s  %-20s  %s\n", fp, peers->list[i].name[0] != '\0' ? peers->list[i].name : "-",
               pub);
    }
    sitx_peers_free(peers);
    return fflush(stdout) == 0 ? 0 : 1;
}
