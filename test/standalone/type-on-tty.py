"""Runs a command on a pseudo-terminal, types $TTY_INPUT once $TTY_PROMPT has appeared, and
prints everything the terminal showed: what a person at a terminal would see."""
import os
import pty
import select
import sys

pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])

shown = b""
typed = False
prompt = os.environ["TTY_PROMPT"].encode()
while True:
    ready, _, _ = select.select([fd], [], [], 120)
    if not ready:
        break
    try:
        chunk = os.read(fd, 4096)
    except OSError:  # EIO: the command has ended and closed the terminal
        break
    if not chunk:
        break
    shown += chunk
    if not typed and prompt in shown:
        typed = True
        os.write(fd, os.environ["TTY_INPUT"].encode() + b"\r")
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(shown)
sys.exit(os.waitstatus_to_exitcode(status))
