#!/usr/bin/env bash
# PROTOCOL.md §10's table of limits states the defaults the programs use:
# each row with an option must show the default that option's --help line
# prints, and the fixed per-connection transfer cap must be the receiver's.
. "$(dirname "$0")/lib.sh"

src=$(cd "$(dirname "$0")/../.." && pwd)
doc=$src/proto/PROTOCOL.md
[ -r "$doc" ] || fail "cannot read $doc"
timeout 10 "$SITX_RECV" --help >"$WORK/recv.help" 2>&1 || fail "sitx-recv --help failed"
timeout 10 "$SITX_SEND" --help >"$WORK/send.help" 2>&1 || fail "sitx-send --help failed"
E2E_LOGS+=("$WORK/recv.help" "$WORK/send.help")

python3 - "$doc" "$WORK/recv.help" "$WORK/send.help" \
    "$src/receiver/transfer.h" >"$WORK/check.out" 2>&1 <<'PY'
import re, sys

doc, recv_help, send_help, transfer_h = sys.argv[1:]
errors = []

def help_defaults(path):
    """option -> the text after '(default ' in its help entry (wrapped lines included)."""
    out, cur, text = {}, None, []
    for line in open(path):
        m = re.match(r"^  (--[a-z-]+)", line)
        if m or not line.strip():
            if cur:
                d = re.search(r"\(default ([^,;)]+)", " ".join(text))
                if d:
                    out[cur] = d.group(1).strip()
            cur, text = (m.group(1), [line]) if m else (None, [])
        elif cur:
            text.append(line.strip())
    if cur:
        d = re.search(r"\(default ([^,;)]+)", " ".join(text))
        if d:
            out[cur] = d.group(1).strip()
    return out

def number(text):
    """'64 MiB', '64M', '10 s', '10', '64 Mpx' -> an integer."""
    m = re.fullmatch(r"\s*(\d+)\s*(MiB|Mpx|M|s|bytes)?\s*", text)
    if not m:
        return None
    n = int(m.group(1))
    return n << 20 if m.group(2) in ("MiB", "Mpx", "M") else n

helps = {"receiver": help_defaults(recv_help), "sender": help_defaults(send_help)}
body = open(doc).read()
sec = body[body.index("## 10. Violations and limits"):body.index("## 11. Retries")]
rows = [r for r in sec.splitlines() if r.startswith("| receiver") or r.startswith("| sender")
        or r.startswith("| both")]
if len(rows) < 10:
    errors.append(f"§10 table: only {len(rows)} rows found")
checked = 0
for row in rows:
    cells = [c.strip() for c in row.strip("|").split("|")]
    if len(cells) != 4:
        errors.append(f"§10 row without 4 cells: {row}")
        continue
    side, what, default, option = cells
    if option == "fixed":
        if "per connection" in what:
            m = re.search(r"#define XFER_PER_CONN_MAX (\d+)", open(transfer_h).read())
            if not m or m.group(1) != default:
                errors.append(f"§10 says {default} transfers per connection, "
                              f"receiver/transfer.h says {m.group(1) if m else '?'}")
        continue
    opts = [o.strip().strip("`") for o in option.split(" / ")]
    vals = [v.strip() for v in default.split(" / ")]
    if len(opts) != len(vals) or side not in helps:
        errors.append(f"§10 row does not pair options with defaults: {row}")
        continue
    for opt, val in zip(opts, vals):
        got = helps[side].get(opt)
        if got is None:
            errors.append(f"{side} --help has no default for {opt} (§10 says {val})")
        elif number(got) is None or number(got) != number(val):
            errors.append(f"§10 says {opt} defaults to {val}, {side} --help says {got}")
        else:
            checked += 1
if checked < 12:
    errors.append(f"only {checked} defaults compared")
print("\n".join(errors) if errors else f"ok: {checked} defaults agree")
sys.exit(1 if errors else 0)
PY
rc=$?
E2E_LOGS+=("$WORK/check.out")
[ "$rc" -eq 0 ] || fail "PROTOCOL.md §10 and --help disagree"
note "$(cat "$WORK/check.out")"
pass
