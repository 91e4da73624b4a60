"""One file per family: its config, its module tree and its task heads."""
