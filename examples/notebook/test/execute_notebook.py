# Notebook test step: executes one notebook headlessly with nbclient and writes the executed copy elsewhere.
# Usage: python execute_notebook.py <notebook.ipynb> <executed-out.ipynb> <kernel-name> <cell-timeout-s>
# The executed copy is written even when a cell fails, so its outputs can be inspected; a failing cell makes
# nbclient raise CellExecutionError, whose message (with the cell's error) goes to stderr and exits non-zero.
import os
import sys

import nbformat
from nbclient import NotebookClient

source, target, kernel_name, timeout = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
nb = nbformat.read(source, as_version=4)
client = NotebookClient(
    nb,
    timeout=timeout,
    kernel_name=kernel_name,
    # The kernel's working directory: the notebook's own folder, so its relative imports and deno.json apply.
    resources={"metadata": {"path": os.path.dirname(os.path.abspath(source))}},
)
try:
    client.execute()
finally:
    nbformat.write(nb, target)
