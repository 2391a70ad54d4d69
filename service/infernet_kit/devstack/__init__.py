"""Local development stack: the offline inference backend, process launching, the demo."""
