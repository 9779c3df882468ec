"""An operator panel for bench/rdp.sh SCREEN=panel: eight pump readings and their bars,
rewritten in place ten times a second, as an HMI overview changes (the rest of the screen
stays still)."""
import math
import sys
import time

step = 0
while True:
    lines = []
    for pump in range(8):
        flow = 50 + 45 * math.sin(step / 10 + pump)
        bar = "#" * int(flow / 4)
        lines.append(f" PUMP {pump + 1}  flow {flow:6.2f} m3/h  [{bar:<25}] ")
    sys.stdout.write("\033[H" + "\n".join(lines))
    sys.stdout.flush()
    step += 1
    time.sleep(0.1)
