#!/bin/sh
# Concurrency probe: marks itself running in the folder named by the "dir" parameter, answers
# how many calls were running at that moment, and leaves after a short while.
dir=$(sed -n 's/.*"dir":"\([^"]*\)".*/\1/p')
touch "$dir/$$.running"
running=$(ls "$dir" | grep -c '\.running$')
sleep 0.05
rm "$dir/$$.running"
printf '{"running": %s}\n' "$running"
