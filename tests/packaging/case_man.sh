#!/usr/bin/env bash
# The man pages and the example configuration against the programs:
#  - groff renders each page with every warning on (-ww) and says nothing;
#    mandoc -T lint too when it is installed;
#  - each page has the sections a user looks for;
#  - the long options a page documents are exactly the ones the program's
#    --help lists, and the program accepts each of them (a typo would be an
#    "unknown option");
#  - every option named in receiver/sitx-recv.conf, comments included, is one
#    sitx-recv accepts, and the comments document every option;
#  - each "(default X)" of --help is the default the page gives (and for the
#    receiver, the configuration's comments);
#  - the exit codes of sitx-send(1) are the ones --help lists;
#  - the version in each page's footer is the project's.
. "$(dirname "$0")/lib.sh"

need_tools groff
for v in SITX_RECV SITX_SEND; do
    [ -x "${!v:-}" ] || die "$v is not an executable"
done
VERSION=$(project_version)
DOCS="$SITX_SOURCE_DIR/docs"

for page in sitx-send.1 sitx-recv.8; do
    src="$DOCS/$page"
    [ -f "$src" ] || { fail "no $src"; continue; }
    if ! out=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$src" 2>&1) || [ -n "$out" ]; then
        fail "groff -ww on $page: $out"
    fi
    if command -v mandoc >/dev/null 2>&1; then
        out=$(mandoc -T lint -W warning "$src" 2>&1) || fail "mandoc -T lint on $page: $out"
    fi
    # What a reader sees on an 80-column terminal: no line longer than the
    # 78 columns man gives the text (examples are not filled, so they can be).
    width=$(LC_ALL=C groff -man -Tascii -P-cbou -rLL=78n "$src" 2>/dev/null |
        awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
    [ "$width" -le 78 ] || fail "$page renders lines of $width columns at 78n"

    sections=(NAME SYNOPSIS DESCRIPTION OPTIONS ENVIRONMENT FILES "EXIT STATUS" EXAMPLES
              SECURITY "SEE ALSO")
    [ "$page" = sitx-recv.8 ] && sections+=(SIGNALS)
    for sec in "${sections[@]}"; do
        grep -qx "\.SH \"\{0,1\}$sec\"\{0,1\}" "$src" || fail "$page has no $sec section"
    done
    th_version=$(sed -n 's/^\.TH .* "sitx \([^"]*\)".*/\1/p' "$src")
    expect_eq "version in the $page footer" "$th_version" "$VERSION"
done

# long_options FILE: the --options named in a text, one per line, sorted.
long_options() {
    sed 's/\\-/-/g' "$1" | grep -o -- '--[a-z][a-z-]*[a-z]' | sort -u
}
# The tags of the OPTIONS section of a page: the line after each .TP, up
# to the next .SH (mentions of options in running text do not count).
options_section() {
    awk '/^\.SH / { on = ($0 ~ /^\.SH OPTIONS/) } on && prev ~ /^\.TP/ { print } { prev = $0 }' "$1"
}

check_program() { # program page
    local prog=$1 page=$2 name
    name=$(basename "$prog")
    "$prog" --help >"$WORK/$name.help" 2>&1 || fail "$name --help failed"
    long_options "$WORK/$name.help" >"$WORK/$name.help.opts"
    options_section "$DOCS/$page" >"$WORK/$page.options"
    long_options "$WORK/$page.options" >"$WORK/$page.opts"
    [ -s "$WORK/$name.help.opts" ] || fail "$name --help names no option"
    if ! diff -u "$WORK/$name.help.opts" "$WORK/$page.opts" >"$WORK/$name.diff"; then
        fail "options of $name --help (-) and $page OPTIONS (+) differ:
$(grep '^[-+]-' "$WORK/$name.diff")"
    fi
    # Each documented option is one the program knows; run with nothing
    # else, it stops at a usage check or does its job (--help, --version).
    local opt out
    while read -r opt; do
        out=$(timeout 10 "$prog" "$opt" </dev/null 2>&1)
        if grep -Eqi "unknown (or ambiguous )?option|unrecognized option" <<<"$out"; then
            fail "$name does not accept $opt: $out"
        fi
    done <"$WORK/$page.opts"
    # ... and the check above can fail.
    out=$(timeout 10 "$prog" --no-such-option </dev/null 2>&1)
    grep -Eqi "unknown|unrecognized" <<<"$out" ||
        fail "$name does not call --no-such-option unknown: $out"
}
check_program "$SITX_RECV" sitx-recv.8
check_program "$SITX_SEND" sitx-send.1

# The configuration's options, comments included, are the receiver's: the
# first word of each line of its table ("#   --opt ...") and of the value.
sed -n 's/^#\{0,1\}[[:space:]]*\(--[a-z][a-z-]*\).*/\1/p' "$SITX_SOURCE_DIR/receiver/sitx-recv.conf" |
    sort -u >"$WORK/conf.opts"
missing=$(comm -23 "$WORK/conf.opts" "$WORK/sitx-recv.help.opts")
[ -z "$missing" ] || fail "sitx-recv.conf names options sitx-recv does not list: $missing"
# ... and it documents every one but the ones for a terminal, the key tool and
# the one-shot --open (no daemon setting).
undocumented=$(comm -13 "$WORK/conf.opts" "$WORK/sitx-recv.help.opts" |
    grep -vxE -- '--(gen-key|help|version|open|out)')
[ -z "$undocumented" ] || fail "sitx-recv.conf does not document: $undocumented"

# Defaults: each "(default X)" in --help is what the page (and, for the
# receiver, the configuration's comments) says for that option.
# help_defaults HELP: "--opt X" lines.
help_defaults() {
    awk '/^ +(-[a-zA-Z], )?--[a-z]/ { match($0, /--[a-z-]+/); opt = substr($0, RSTART, RLENGTH) }
        opt != "" && match($0, /default [^);,]+/) {
            print opt, substr($0, RSTART + 8, RLENGTH - 8); opt = "" }' "$1"
}
# page_entry PAGE OPT: the text of OPT's entry, roff requests and escapes gone.
page_entry() {
    sed 's/\\-/-/g' "$1" | awk -v opt="$2" '
        /^\.(TP|SS|SH)/ { if (on) exit; tag = ($0 ~ /^\.TP/); next }
        tag { tag = 0; if (index($0, opt) && $0 !~ ("-" opt)) on = 1 }
        on { sub(/^\.[A-Z]+ /, ""); printf "%s ", $0 }'
}
# conf_entry OPT: the comment lines of OPT in the configuration's table.
conf_entry() {
    awk -v opt="$1" '/^#   --/ { on = ($2 == opt) } /^#/ && on { printf "%s ", $0 }' \
        "$SITX_SOURCE_DIR/receiver/sitx-recv.conf"
}
check_defaults() { # name page
    local opt def text
    help_defaults "$WORK/$1.help" >"$WORK/$1.defaults"
    [ -s "$WORK/$1.defaults" ] || fail "$1 --help gives no default at all"
    while read -r opt def; do
        text=$(page_entry "$DOCS/$2" "$opt")
        grep -qF -e "default $def" <<<"$text" ||
            fail "$2 does not say 'default $def' for $opt: $text"
        if [ "$1" = sitx-recv ]; then
            text=$(conf_entry "$opt" | tr -s ' #' ' ')
            grep -qF -e "default $def" <<<"$text" ||
                fail "sitx-recv.conf does not say 'default $def' for $opt: $text"
        fi
    done <"$WORK/$1.defaults"
}
check_defaults sitx-recv sitx-recv.8
check_defaults sitx-send sitx-send.1

# Exit codes: sitx-send(1) lists those of --help, 0 to 7 and 130.
help_codes=$(sed -n '/^Exit codes:/,$p' "$WORK/sitx-send.help" |
    sed -n 's/^  \([0-9]\{1,3\}\)  *[a-z-].*/\1/p' | tr '\n' ' ')
page_codes=$(awk '/^\.SH EXIT STATUS/ { on = 1; next } /^\.SH / { on = 0 }
    on && prev == ".TP" && /^\.B [0-9]+$/ { printf "%s ", $2 } { prev = $0 }' "$DOCS/sitx-send.1")
expect_eq "sitx-send exit codes (man page)" "$page_codes" "$help_codes"
expect_eq "sitx-send exit codes (--help)" "$help_codes" "0 1 2 3 4 5 6 7 130 "
finish
