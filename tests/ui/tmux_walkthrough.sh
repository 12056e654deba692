#!/usr/bin/env bash
# The README walk-through, typed into the real demo till in a real terminal (tmux, 80x24) the way a scanner
# and a hurried cashier type: every scan and every answer sent as ONE burst (tmux writes the whole string to
# the terminal at once), dialogs answered with a double Enter. Fails on a traceback, on a non-zero exit
# status, or when the receipt does not show the change due.
#
#   tests/ui/tmux_walkthrough.sh [STORE_EDGE_COMMAND]      (default: store-edge on PATH)
#
# The journeys: Bram's sale (card, products, F3, F4, F5 kept, F5 and Ctrl+Z, coupon, points, a reward with Ctrl+R, cash with
# change, the 0-10 answer), Noor Visser found at the hub (a member of another store), park and recall, F10 and
# Ctrl+Q asking first.
#
# Needs tmux (deploy/system-packages.txt). Leaves nothing behind: its own tmux server and a temp dir.
set -euo pipefail

STORE_EDGE=${1:-store-edge}
WORK=$(mktemp -d)
SOCKET="walk-$$"
TMUX_CMD=(tmux -L "$SOCKET" -f /dev/null)
LOG="$WORK/screens.txt"

cleanup() {
    "${TMUX_CMD[@]}" kill-server 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
    echo "WALK-THROUGH FAILED: $*" >&2
    echo "--- last screen ---" >&2
    screen >&2 || true
    echo "--- log: $LOG ---" >&2
    tail -n 80 "$LOG" >&2 || true
    exit 1
}

screen() { "${TMUX_CMD[@]}" capture-pane -p -t walk; }
history() { "${TMUX_CMD[@]}" capture-pane -p -S - -t walk; }

# wait_for TEXT [SECONDS]: until the screen shows TEXT
wait_for() {
    local text=$1 limit=${2:-20} i
    for ((i = 0; i < limit * 10; i++)); do
        if screen | grep -qF -- "$text"; then
            screen >>"$LOG"
            return 0
        fi
        if [[ -e "$WORK/exit" ]]; then
            fail "the till exited (status $(cat "$WORK/exit")) while waiting for '$text'"
        fi
        sleep 0.1
    done
    fail "'$text' did not appear within ${limit}s"
}

burst() { "${TMUX_CMD[@]}" send-keys -t walk "$@"; }

# the till, the way `make run` starts it, with its own data under $WORK; its exit status lands in a file
# (a wider scanner-burst window than the 35 ms default, as the Pilot tests use: on a loaded test machine the
# terminal's bytes may reach the till in slices)
"${TMUX_CMD[@]}" new-session -d -s walk -x 80 -y 24 \
    "TERM=xterm-256color STORE_EDGE_TILL__WEDGE_MAX_KEY_INTERVAL_MS=${WEDGE_MS:-150} \
     $STORE_EDGE demo --fresh --data-dir '$WORK/demo'; echo \$? > '$WORK/exit'; sleep 600"

wait_for "Ready: scan" 60
sleep 2  # the till loads the barcode decoder a second after its first screen
# 1. the customer's card
burst "6009000000000016" Enter
wait_for "Bram Jansen"
# 2. products, each scan one burst; the snack three times, 100 ms apart (a hurried cashier; reads closer
# than the 30 ms debounce would be one trigger pull read twice)
burst "08710000000017" Enter
wait_for "Whole Milk 1L"
burst "08710000000024" Enter
wait_for "Organic"
for _ in 1 2 3; do burst "08710000001212" Enter; sleep 0.1; done
wait_for "3 for 2"
# F3 finds by name; F4 changes the highlighted line's quantity (double Enter); F5 asks, Escape keeps
burst F3 "sourdough"
wait_for "Sourdough"
burst Enter Enter
wait_for "Sourdough Loaf x1"
burst F4 "2" Enter Enter
wait_for "quantity 2"
burst F5
wait_for "Void line"
burst Escape
wait_for "Kept line"
# F5 and Y void it; Ctrl+Z brings it back
burst F5
wait_for "Void line"
burst "y"
wait_for "undo the void"
burst C-z
wait_for "void undone"
# 3. the coupon, scanned into F7's dialog, with a double Enter
burst F7
wait_for "Coupon code"
burst "SAVE3-ALPHA" Enter Enter
wait_for "coupon SAVE3-ALPHA added"
# 4. points: type 200, double Enter
burst F6
wait_for "Redeem points"
burst "200" Enter Enter
wait_for "redeeming 200 points"
# ... or a reward: Ctrl+R twice (one catalogue), Enter picks the cheapest (Free coffee), Y Y claims it once
burst C-r C-r
wait_for "Free coffee"
burst Enter
wait_for "Claim a reward"
burst "y" "y"
wait_for "hand over Ground Coffee 250g"
# 5. pay cash 50 with a double Enter: the second Enter must not close the receipt
burst F9
wait_for "Amount due"
burst "50" Enter Enter
wait_for "CHANGE"
sleep 0.3
screen | grep -qF "CHANGE €" || fail "the receipt does not show the change due"
screen | grep -qF "Points earned" || fail "the receipt does not show the points earned"
# 6. the customer answers 9 (after the receipt's early-key guard)
sleep 1.1
burst "9" Enter
wait_for "Feedback 9/10 recorded"
# a member from another store: the till asks the hub (in the background) and the sale goes on
burst "6009000000020014" Enter
wait_for "Member found at the hub: Noor Visser" 30
burst "08710000000017" Enter
wait_for "Whole Milk 1L x1"
burst F9
wait_for "Amount due"
burst Enter Enter
wait_for "Points earned"
sleep 1.1
burst Escape Escape
wait_for "Guest sale"
# park and recall: a guest basket set aside, then brought back
burst "08710000000017" Enter
wait_for "Whole Milk 1L x1"
burst F12
wait_for "Parked: Guest"
burst F12
wait_for "Parked sales (1)"
burst Enter Enter
wait_for "Recalled: Guest"
# 7. F10 asks before discarding; Ctrl+Q asks too, and Y quits
burst F10
wait_for "Start a new sale?"
burst "y"
wait_for "New sale (guest)"
burst "08710000000017" Enter
wait_for "Whole Milk 1L x1"
burst C-q
wait_for "Quit the till?"
burst "y"
for ((i = 0; i < 200; i++)); do [[ -e "$WORK/exit" ]] && break; sleep 0.1; done
[[ -e "$WORK/exit" ]] || fail "the till did not exit after Ctrl+Q, Y"
history >>"$LOG"
if history | grep -qE "Traceback|Error:"; then
    fail "a traceback or error was printed"
fi
status=$(cat "$WORK/exit")
[[ "$status" == 0 ]] || fail "the till exited with status $status"
echo "walk-through OK: change due on the receipt, void undone, reward claimed, member found at the hub, no traceback, exit status 0"
