"""Imported first by the fork server (`forkserver.PRELOAD`): Ctrl-C is the engine's to handle.

A terminal's Ctrl-C reaches every process of the foreground group: the engine, which stops its
workers and keeps the finished runs, but also the fork server and the workers. Without this,
a fork server still importing the model, or a dask worker process, dies of it with a
KeyboardInterrupt traceback on stderr. The fork server keeps the signal dispositions it had
after its preload for the workers it forks, so they ignore Ctrl-C too (as `init_worker` makes
the local pool's do), and are stopped by the engine (`Pool.shutdown`) or with it.
"""

import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)
